"""Production refuses to start with settings that would print useless stamps or weak keys.

Issue 15, items 13 and 14: a deployment without SCANAPP_PUBLIC_BASE_URL printed stamps
pointing at http://127.0.0.1:5000, and one-character or identical secrets were accepted.
"""

from __future__ import annotations

import secrets

import pytest

from scanapp import create_app
from scanapp.config import ConfigError


def strong_secrets() -> dict[str, str]:
    return {name: secrets.token_urlsafe(48) for name in ("SECRET_KEY", "SERIAL_KEY", "PIN_KEY")}


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    """A clean environment: nothing SCANAPP_* leaks in from the shell running the tests."""
    import os

    for name in list(os.environ):
        if name.startswith("SCANAPP_"):
            monkeypatch.delenv(name)

    def start(**overrides):
        settings = {"ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
                    "PUBLIC_BASE_URL": "https://scan.example.vn", **strong_secrets()}
        settings.update(overrides)
        return create_app({k: v for k, v in settings.items() if v is not None})

    return start


def refusal(start, **overrides) -> str:
    with pytest.raises(ConfigError) as info:
        start(**overrides)
    return str(info.value)


def test_production_starts_with_an_https_host_and_generated_secrets(production_env):
    app = production_env()
    assert app.config["PUBLIC_BASE_URL"] == "https://scan.example.vn"


def test_production_without_base_url_refuses_to_start(production_env):
    message = refusal(production_env, PUBLIC_BASE_URL=None)
    assert "SCANAPP_PUBLIC_BASE_URL is not set" in message


@pytest.mark.parametrize("url", [
    "http://scan.example.vn",            # stamps would send phones over plain http
    "https://127.0.0.1:5000",
    "https://localhost",
    "https://[::1]",
    "https://0.0.0.0",
    "https://[::ffff:127.0.0.1]",
    "scan.example.vn",
    "https://scan.example.vn/app?x=1",
])
def test_production_refuses_a_base_url_phones_cannot_use(production_env, url):
    message = refusal(production_env, PUBLIC_BASE_URL=url)
    assert "SCANAPP_PUBLIC_BASE_URL" in message and url in message


@pytest.mark.parametrize("value, reason", [
    ("x", "1 characters long"),
    ("s" * 64, "different characters"),
    ("password" * 8, "different characters"),
    ("correct horse battery staple " * 3, "repeats"),
    ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "neighbouring"),
    # 24 bytes, not 32. A fixed id: a random one differs between pytest-xdist's workers,
    # which then refuse to run (each must collect the same tests).
    pytest.param(secrets.token_hex(24), "bits of randomness", id="token_hex24-bits"),
])
@pytest.mark.parametrize("name", ["SECRET_KEY", "SERIAL_KEY", "PIN_KEY"])
def test_production_refuses_weak_secrets_naming_the_variable(production_env, name, value,
                                                             reason):
    message = refusal(production_env, **{name: value})
    assert f"SCANAPP_{name}" in message and reason in message
    # The message says how to make a good one.
    assert "secrets.token_urlsafe(48)" in message
    others = {"SECRET_KEY", "SERIAL_KEY", "PIN_KEY"} - {name}
    assert not any(f"SCANAPP_{other} " in message for other in others)


def test_production_refuses_a_missing_secret(production_env):
    message = refusal(production_env, PIN_KEY=None)
    assert "SCANAPP_PIN_KEY (derives the scratch-off PINs) is not set" in message


def test_production_refuses_the_same_secret_twice(production_env):
    shared = secrets.token_urlsafe(48)
    message = refusal(production_env, SERIAL_KEY=shared, PIN_KEY=shared)
    assert "SCANAPP_PIN_KEY" in message and "same value as SCANAPP_SERIAL_KEY" in message


def test_every_problem_is_listed_in_one_refusal(production_env):
    message = refusal(production_env, PUBLIC_BASE_URL=None, SECRET_KEY="short", PIN_KEY=None)
    for name in ("PUBLIC_BASE_URL", "SECRET_KEY", "PIN_KEY"):
        assert f"SCANAPP_{name}" in message


def test_generated_tokens_of_every_usual_form_are_accepted():
    import base64

    from scanapp.config import secret_problem

    for _ in range(2000):
        for value in (secrets.token_urlsafe(32), secrets.token_hex(32), secrets.token_urlsafe(48),
                      base64.b64encode(secrets.token_bytes(32)).decode()):
            assert secret_problem(value) is None, value


def test_development_keeps_its_loopback_default(monkeypatch, tmp_path):
    monkeypatch.delenv("SCANAPP_PUBLIC_BASE_URL", raising=False)
    monkeypatch.delenv("SCANAPP_ENV", raising=False)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/d.db"})
    assert app.config["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"
