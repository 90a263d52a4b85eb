"""The service shell: configuration, probes, OpenAPI and docs, the CLI."""

import secrets

import pytest

from scanapp import create_app
from scanapp.config import ConfigError
from scanapp.db import get_engine


def test_production_refuses_to_start_without_secrets(monkeypatch, tmp_path):
    for name in ("SECRET_KEY", "SERIAL_KEY", "PIN_KEY"):
        monkeypatch.delenv(f"SCANAPP_{name}", raising=False)
    monkeypatch.setenv("SCANAPP_SECRET_KEY", secrets.token_urlsafe(48))
    with pytest.raises(ConfigError) as info:
        create_app({"ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                    "PUBLIC_BASE_URL": "https://scan.example.vn"})
    message = str(info.value)
    assert "SCANAPP_SERIAL_KEY" in message and "SCANAPP_PIN_KEY" in message
    assert "SCANAPP_SECRET_KEY" not in message


def test_production_does_not_create_tables_on_its_own(tmp_path):
    app = create_app({"ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
                      "PUBLIC_BASE_URL": "https://scan.example.vn",
                      **{name: secrets.token_urlsafe(48)
                         for name in ("SECRET_KEY", "SERIAL_KEY", "PIN_KEY")}})
    assert app.config["AUTO_MIGRATE"] is False
    import sqlalchemy as sa

    from scanapp.db import get_engine

    assert sa.inspect(get_engine(app)).get_table_names() == []


def test_embedded_default_runs_without_any_setting(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SERIAL_KEY", "PIN_KEY", "ENV"):
        monkeypatch.delenv(f"SCANAPP_{name}", raising=False)
    # A temporary instance folder: the test must not write into the repository's instance/.
    instance = tmp_path / "instance"
    monkeypatch.setenv("SCANAPP_INSTANCE_PATH", str(instance))
    app = create_app()
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    assert app.instance_path == str(instance)
    assert (instance / "scanapp.db").exists() and (instance / "dev-secrets.json").exists()
    # Development secrets are generated once and reused, so issued stamps keep verifying.
    again = create_app()
    assert again.config["SERIAL_KEY"] == app.config["SERIAL_KEY"]
    for made in (app, again):
        get_engine(made).dispose()


def test_health_and_readiness(client, app):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.get_json()["checks"]
    assert checks["database"] == "ok"
    if app.config["REDIS_URL"]:
        assert checks["redis"] == "ok"


def test_readiness_reports_a_dead_redis(app_factory):
    app = app_factory(REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("unavailable")


@pytest.mark.no_storage
def test_openapi_lists_product_and_key_endpoints(client):
    spec = client.get("/api/openapi.json").get_json()
    for path in ("/api/v1/products", "/api/v1/products/{product_id}", "/api/v1/keys",
                 "/api/v1/keys/{key_id}/revoke"):
        assert path in spec["paths"], path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.no_storage
def test_api_docs_render_without_a_cdn(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/docs/static/swagger-ui-bundle.js" in html
    with client.get("/api/docs/static/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200


@pytest.mark.no_storage
def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_cli_creates_key_printed_alone_on_last_line(runner, client):
    result = runner.invoke(args=["keys", "create", "--role", "brand", "--org", "CLI Brand"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("sa_") and " " not in key
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200
    assert me.get_json()["org_name"] == "CLI Brand"
    assert me.get_json()["role"] == "brand"


@pytest.mark.no_storage
def test_cli_rejects_unknown_role(runner):
    result = runner.invoke(args=["keys", "create", "--role", "king", "--org", "X"])
    assert result.exit_code != 0
    assert "king" in result.output


def test_cli_revoke_by_prefix(runner, client):
    key = runner.invoke(args=["keys", "create", "--role", "printer", "--org", "P"]).output
    key = key.strip().splitlines()[-1]
    prefix = key[:13]
    result = runner.invoke(args=["keys", "revoke", prefix])
    assert result.exit_code == 0
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401
    assert response.get_json()["code"] == "revoked_api_key"


def test_migrations_downgrade_and_upgrade_cleanly(tmp_path):
    import sqlalchemy as sa

    from scanapp import migrations
    from scanapp.db import get_engine

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/m.db", "AUTO_MIGRATE": False})
    migrations.upgrade(app)
    assert "products" in sa.inspect(get_engine(app)).get_table_names()
    migrations.downgrade(app, "base")
    assert set(sa.inspect(get_engine(app)).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(app)
    assert "api_keys" in sa.inspect(get_engine(app)).get_table_names()


def test_cli_key_creation_names_the_organisation_id(runner, client):
    result = runner.invoke(args=["keys", "create", "--role", "printer", "--org", "CLI Printer"])
    key = result.output.strip().splitlines()[-1]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).get_json()
    assert f"(organisation id {me['org_id']})" in result.output
