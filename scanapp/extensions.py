"""Extension objects, created unbound here and bound in ``create_app``.

Thin subclasses of flask-smorest's ``Api``, ``Blueprint`` and marshmallow's ``Schema``
give shared behaviour (error shape, strict input) one home.
"""

from __future__ import annotations

import flask_smorest
import marshmallow as ma
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from .errors import error_body, http_exception_response


class ErrorSchema(ma.Schema):
    status = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    errors = ma.fields.Raw()


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        return http_exception_response(error)


class Blueprint(flask_smorest.Blueprint):
    pass


class Schema(ma.Schema):
    """Input schemas refuse unknown fields: a typo must not be silently dropped."""

    class Meta:
        unknown = ma.RAISE
        ordered = True


api = Api()
# Headers follow RATELIMIT_HEADERS_ENABLED (off by default, see scanapp/scan/limits.py: they
# cost two Redis calls on every response).
limiter = Limiter(key_func=get_remote_address, default_limits=[])

__all__ = ["Api", "Blueprint", "Schema", "ErrorSchema", "api", "limiter", "error_body"]
