"""Settings: one module reads every SCANAPP_* variable, validates it, and README lists it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scanapp.config import ConfigError, load_settings, parse_bool

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scanapp"
CONFIG = PACKAGE / "config.py"


def _readme_variables() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    first_cells = re.findall(r"^\|([^|]*)\|", section, re.M)
    return {name for cell in first_cells for name in re.findall(r"`(SCANAPP_[A-Z0-9_*]+)`", cell)}


def _variables_read_by_code() -> dict[str, Path]:
    found: dict[str, Path] = {}
    # config.py reads names through its _env readers: _env("NAME"), _env_int("NAME", ...).
    for name in re.findall(r'_env(?:_[a-z]+)?\(\s*"([A-Z0-9_]+)"', CONFIG.read_text()):
        found["SCANAPP_" + name] = CONFIG
    for path in PACKAGE.rglob("*.py"):
        for name in re.findall(r"SCANAPP_[A-Z0-9_]+", path.read_text(encoding="utf-8")):
            found.setdefault(name, path)
    return found


def test_readme_lists_every_variable_the_code_reads():
    listed = _readme_variables()
    missing = {name: str(path.relative_to(ROOT))
               for name, path in _variables_read_by_code().items() if name not in listed}
    assert not missing, f"README's configuration table lacks {missing}"


def test_no_module_but_config_reads_the_environment():
    readers = re.compile(r"os\.environ|os\.getenv|getenv\(")
    offenders = [str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*.py")
                 if path != CONFIG and readers.search(path.read_text(encoding="utf-8"))]
    assert not offenders, f"read settings through scanapp/config.py, not: {offenders}"


@pytest.mark.parametrize(("name", "value"), [
    ("DATABASE_POOL_SIZE", "ten"),
    ("DATABASE_POOL_SIZE", "0"),
    ("REDIS_CLUSTER", "maybe"),
    ("RATELIMIT_SCAN", "lots"),
    ("EPCIS_PUSH_INTERVAL", "soon"),
    ("WEBHOOK_MAX_ATTEMPTS", "-1"),
    ("ENV", "prod"),
])
def test_a_bad_value_stops_the_start_naming_the_variable(monkeypatch, tmp_path, name, value):
    monkeypatch.setenv("SCANAPP_" + name, value)
    with pytest.raises(ConfigError, match="SCANAPP_" + name):
        load_settings(str(tmp_path))


def test_values_are_parsed_into_their_types(monkeypatch, tmp_path):
    monkeypatch.setenv("SCANAPP_DATABASE_POOL_SIZE", "4")
    monkeypatch.setenv("SCANAPP_REDIS_CLUSTER", "Yes")
    monkeypatch.setenv("SCANAPP_EPCIS_PUSH_TIMEOUT", "2.5")
    monkeypatch.setenv("SCANAPP_PUBLIC_BASE_URL", "https://scan.example.vn/")
    settings = load_settings(str(tmp_path))
    assert settings["DATABASE_POOL_SIZE"] == 4
    assert settings["REDIS_CLUSTER"] is True
    assert settings["EPCIS_PUSH_TIMEOUT"] == 2.5
    assert settings["EPCIS_NAMESPACE"] == "https://scan.example.vn/ns/epcis#"


def test_production_defaults_differ_from_development(monkeypatch, tmp_path):
    import secrets

    for name in ("SECRET_KEY", "SERIAL_KEY", "PIN_KEY"):
        monkeypatch.setenv("SCANAPP_" + name, secrets.token_urlsafe(32))
    monkeypatch.setenv("SCANAPP_PUBLIC_BASE_URL", "https://scan.example.vn")
    monkeypatch.setenv("SCANAPP_ENV", "production")
    production = load_settings(str(tmp_path))
    assert production["AUTO_MIGRATE"] is False
    assert production["WEBHOOK_ALLOW_PRIVATE"] is False
    assert production["SCAN_FLAGS_IN_BACKGROUND"] is True


def test_one_bool_parser_refuses_what_it_does_not_know():
    assert parse_bool("ON") is True and parse_bool(" no ") is False
    with pytest.raises(ConfigError, match="SCANAPP_X"):
        parse_bool("2", "SCANAPP_X")


def test_a_broken_boundary_file_stops_the_app_naming_the_variable(tmp_path):
    from scanapp import create_app

    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="SCANAPP_PROVINCES_GEOJSON"):
        create_app({"PROVINCES_GEOJSON": str(broken), "AUTO_MIGRATE": False,
                    "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_production_writes_flags_after_the_answer_by_default(tmp_path, monkeypatch):
    # README: SCANAPP_SCAN_FLAGS_IN_BACKGROUND is 1 in production; the scan's answer must not
    # wait for the flag write there (issue 22, item 13).
    import secrets

    from scanapp.config import load_settings

    monkeypatch.delenv("SCANAPP_SCAN_FLAGS_IN_BACKGROUND", raising=False)
    strong = {name: secrets.token_urlsafe(48) for name in ("SECRET_KEY", "SERIAL_KEY", "PIN_KEY")}
    production = load_settings(str(tmp_path), {
        "ENV": "production", "PUBLIC_BASE_URL": "https://scan.example.vn", **strong})
    assert production["SCAN_FLAGS_IN_BACKGROUND"] is True
    development = load_settings(str(tmp_path), {"ENV": "development"})
    assert development["SCAN_FLAGS_IN_BACKGROUND"] is False
