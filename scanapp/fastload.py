"""A marshmallow schema's ``load``, compiled into a plain function for bodies it accepts.

The lean scan route (scan/lean.py) validates every scan body. ``Schema.load`` costs about
30-60 us per scan body (error store, hook dispatch, a ``deserialize`` call per field), most
of it bookkeeping for bodies that turn out valid. ``compile_loader(schema)`` reads the schema's
own declaration (its fields, their ``required``/``allow_none``/``load_default``, their
validator objects, its ``validates_schema`` hooks) and returns a function that answers, for
one decoded JSON body, either exactly what ``schema.load`` would return, or ``None`` when the
body is not plainly valid. ``None`` never means "invalid": the caller then asks the schema
itself (the lean route hands the request to the documented Flask view), so every error
answer keeps its one definition, the schema's.

There is no second declaration to drift: the function calls the schema's own validator
objects and hooks, and a field's value of any type but the plain JSON ones below goes through
the field's own ``deserialize``. A schema using a feature whose semantics this module does not
reproduce (pre/post-load hooks, per-field ``validates`` hooks, data keys, unknown fields
other than RAISE) is refused when the route is built, not served differently.
tests/test_fastload.py checks with hypothesis that the two agree on random bodies.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import marshmallow as ma
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA
from marshmallow.utils import missing

Loader = Callable[[object], "dict | None"]


class NotCompilable(TypeError):
    """The schema uses something ``compile_loader`` does not reproduce exactly."""


def _plain_string(field: ma.fields.Field) -> Callable:
    # JSON strings arrive as ``str``: String's deserialize returns them as they are.
    def convert(value):
        if type(value) is str:
            return value
        return field.deserialize(value)
    return convert


def _plain_float(field: ma.fields.Float) -> Callable:
    # JSON numbers arrive as int or float (never bool: ``type(True) is bool``). Float's
    # deserialize is float(value), refused when not finite unless allow_nan; anything else
    # (a number in a string, ...) goes through the field itself.
    finite_only = field.allow_nan is False

    def convert(value):
        kind = type(value)
        if kind is float or kind is int:
            number = float(value)
            if finite_only and not math.isfinite(number):
                raise ma.ValidationError("special")
            return number
        return field.deserialize(value)
    return convert


def _field_step(name: str, field: ma.fields.Field):
    if field.data_key not in (None, name) or field.attribute not in (None, name):
        raise NotCompilable(f"{name}: data_key/attribute")
    if field.pre_load or field.post_load:
        raise NotCompilable(f"{name}: field pre_load/post_load")
    if type(field) is ma.fields.String:
        convert = _plain_string(field)
        validators = tuple(field.validators)
    elif type(field) is ma.fields.Float:
        convert = _plain_float(field)
        validators = tuple(field.validators)
    else:  # the field's own deserialize (its validators included)
        convert, validators = field.deserialize, ()
    return (name, field.required, field.allow_none, field.load_default, convert, validators)


def compile_loader(schema: ma.Schema) -> Loader:
    """``schema.load`` for the bodies it accepts; ``None`` for every other (see the module)."""
    if schema.many or schema.partial or schema.unknown != ma.RAISE:
        raise NotCompilable("only many=False, partial=None, unknown=RAISE schemas")
    hooks = schema._hooks
    if hooks[PRE_LOAD] or hooks[POST_LOAD] or hooks[VALIDATES]:
        raise NotCompilable("pre_load/post_load/validates hooks")
    schema_validators = []
    for attr_name, pass_collection, kwargs in hooks[VALIDATES_SCHEMA]:
        if pass_collection or kwargs.get("pass_original"):
            raise NotCompilable(f"validates_schema {attr_name}: pass_collection/pass_original")
        schema_validators.append(getattr(schema, attr_name))
    if any(field.dump_only for field in schema.declared_fields.values()):
        raise NotCompilable("dump_only fields")
    steps = tuple(_field_step(name, field) for name, field in schema.load_fields.items())
    known = frozenset(name for name, *_ in steps)
    hook_kwargs = {"partial": schema.partial, "many": False, "unknown": schema.unknown}

    def load(data) -> dict | None:
        if type(data) is not dict or not known.issuperset(data):
            return None
        result = {}
        try:
            for name, required, allow_none, default, convert, validators in steps:
                value = data.get(name, missing)
                if value is missing:
                    if required:
                        return None
                    if default is not missing:
                        result[name] = default() if callable(default) else default
                    continue
                if value is None:
                    if not allow_none:
                        return None
                    result[name] = None
                    continue
                value = convert(value)
                for validator in validators:
                    validator(value)
                result[name] = value
            for validator in schema_validators:
                validator(result, **hook_kwargs)
        except ma.ValidationError:
            return None
        return result

    return load


__all__ = ["compile_loader", "NotCompilable", "Loader"]
