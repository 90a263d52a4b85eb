"""scanapp: issue, print and verify GS1 Digital Link traceability stamps.

``create_app`` reads as the table of contents of the service: settings, extensions, the
services (scanapp/bootstrap.py, the composition root), blueprints, error handlers, commands.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask

from . import authority, bootstrap, cli, db, health, redis_client, trace, worker
from .config import instance_path, load_settings
from .errors import register_errorhandlers
from .extensions import api
from .scan import lean as lean_scan_route
from .scan import limits as scan_limits
from .security import register_security
from .sessions import CookieSessionOnDemand

log = logging.getLogger(__name__)

# Feature blueprints, registered in this order; each module exposes ``blp``.
FEATURE_VIEWS = (
    "scanapp.auth.views",
    "scanapp.products.views",
    "scanapp.scan.views",
    "scanapp.serials.views",
    "scanapp.epcis.views",
    "scanapp.epcis.rest",
    "scanapp.fraud.views",
    "scanapp.trace.views",
    "scanapp.reports.views",
    "scanapp.authority.views",
)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    # The instance folder (embedded database, development secrets) may live outside the
    # code: tests and read-only installs point SCANAPP_INSTANCE_PATH elsewhere.
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path())
    app.session_interface = CookieSessionOnDemand()
    app.config.update(load_settings(app.instance_path, overrides))
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    load_regions(app)
    register_extensions(app)
    bootstrap.init_app(app)
    register_blueprints(app)
    register_errorhandlers(app)
    # Inside ProxyFix (register_security), so it sees the client address the proxies report.
    lean_scan_route.install(app)
    register_security(app)
    register_commands(app)
    trace.init_app(app)
    authority.init_app(app)
    prepare_database(app)
    return app


def load_regions(app: Flask) -> None:
    """Precise province boundaries, when the operator provides them: loaded at start-up so
    a broken file stops the service with a clear message instead of a wrong map."""
    from .config import ConfigError
    from .regions.geo import GeoJSONError, load_configured

    try:
        load_configured(app.config["PROVINCES_GEOJSON"])
    except GeoJSONError as exc:
        raise ConfigError(f"SCANAPP_PROVINCES_GEOJSON: {exc}") from None


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    redis_client.init_app(app)
    api.init_app(app)
    scan_limits.init_app(app)
    from .risk.rules import setting_problem

    app.extensions["scanapp.fraud_settings_check"] = setting_problem
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "scanapp API key"})
    _serve_swagger_ui_offline(app)


def register_blueprints(app: Flask) -> None:
    from importlib import import_module

    app.register_blueprint(health.blp)
    for module_name in FEATURE_VIEWS:
        module = import_module(module_name)
        api.register_blueprint(module.blp)
        for extra in getattr(module, "PLAIN_BLUEPRINTS", ()):
            app.register_blueprint(extra)


def register_commands(app: Flask) -> None:
    cli.init_app(app)
    worker.init_app(app)
    cli.report_domain_errors(app.cli)


def prepare_database(app: Flask) -> None:
    if not app.config["AUTO_MIGRATE"]:
        return
    import fcntl

    from . import migrations

    # Several gunicorn workers start at once on the embedded default; without a lock they
    # race to create the same tables. The lock file lives in the instance folder, so this
    # serialises the processes of one machine, which is all the embedded default has.
    os.makedirs(app.instance_path, exist_ok=True)
    with open(os.path.join(app.instance_path, "migrate.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            migrations.upgrade(app)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _serve_swagger_ui_offline(app: Flask) -> None:
    """Serve Swagger UI's assets from the installed package: no CDN on the docs page."""
    from flask import send_from_directory
    from swagger_ui_bundle import swagger_ui_path

    @app.get("/api/docs/static/<path:filename>")
    def swagger_ui_static(filename: str):
        return send_from_directory(swagger_ui_path, filename)
