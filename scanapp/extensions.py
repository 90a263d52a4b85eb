"""Extension objects, created unbound here and bound in ``create_app``.

Thin subclasses of flask-smorest's ``Api``, ``Blueprint`` and marshmallow's ``Schema``
give shared behaviour (error shape, strict input) one home.
"""

from __future__ import annotations

import json

import flask_smorest
import marshmallow as ma
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, is_json_request

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


# No field of this API needs a number literal longer than this (a GTIN is a string; a range
# holds at most 10 million codes). Longer ones are refused as the JSON error they are, before
# Python builds them: a 5,000-digit integer raised ValueError (int digit limit), a 500.
MAX_NUMBER_CHARS = 40


def _bounded(convert):
    def parse(text: str):
        if len(text) > MAX_NUMBER_CHARS:
            raise json.JSONDecodeError(f"a number of {len(text)} characters", text, 0)
        return convert(text)
    return parse


def _no_constant(name: str):
    raise json.JSONDecodeError(f"{name} is not a JSON number", name, 0)


def load_json(data: bytes | str):
    """``json.loads`` that refuses over-long numbers, NaN and Infinity (JSONDecodeError)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(f"not UTF-8: {exc.reason}", "", exc.start) from exc
    return json.loads(data, parse_int=_bounded(int), parse_float=_bounded(float),
                      parse_constant=_no_constant)


class BoundedJsonParser(FlaskParser):
    """webargs' parser with ``load_json``: an absurd number is a 400, never a 500."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return webargs_core.missing
        return load_json(req.get_data(cache=True))


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = BoundedJsonParser()


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
