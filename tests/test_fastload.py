"""The compiled loader (scanapp/fastload.py) and ``Schema.load`` decide alike.

For every body: the compiled function returns exactly what ``schema.load`` returns (same keys,
same values, same types), or ``None`` exactly when ``schema.load`` raises. Checked on random
JSON-like bodies (hypothesis) around every limit of the scan API's schemas, and on the bodies
tests/scan/test_lean_route.py sends through the whole app.
"""

from __future__ import annotations

import json
import math

import marshmallow as ma
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scanapp.extensions import Schema
from scanapp.fastload import NotCompilable, compile_loader
from scanapp.scan.schemas import PinIn, ScanIn

SCHEMAS = {"scan": ScanIn(), "pin": PinIn()}
LOADERS = {name: compile_loader(schema) for name, schema in SCHEMAS.items()}


def _lengths(*limits: int) -> st.SearchStrategy[str]:
    sizes = sorted({n + d for n in limits for d in (-1, 0, 1) if n + d >= 0})
    return st.sampled_from(sizes).flatmap(
        lambda n: st.text(alphabet=st.sampled_from("aé0 -\n9"), min_size=n, max_size=n))


# Values a JSON body can hold, weighted towards the schemas' edges.
_numbers = st.one_of(
    st.sampled_from([-180, -180.0000001, -90, -90.0000001, 0, -0.0, 90, 90.0000001, 180,
                     180.0000001, 1_000_000, 1_000_000.5, 10**39, -(10**39), 1e308]),
    st.integers(-400, 400), st.floats(allow_nan=True, allow_infinity=True))
_strings = st.one_of(
    _lengths(0, 1, 4, 20, 128, 2048),
    st.sampled_from(["consumer", "api", "inspector", "API", "", " ", "1234", "1234\n",
                     "12 34-56", "12ab", "0000-0000", "21.03", " 1e3 ", "1_0", "nan", "inf",
                     "-Infinity", "0x10", "٣٤٥٦"]),
    st.text(max_size=30))
_scalars = st.one_of(st.none(), st.booleans(), _numbers, _strings)
_values = st.one_of(_scalars, st.lists(_scalars, max_size=3),
                    st.dictionaries(st.text(max_size=5), _scalars, max_size=2))
_keys = st.sampled_from(["code", "lat", "lon", "accuracy_m", "device_id", "source", "pin",
                         "extra", "Code", "lat "])
_bodies = st.one_of(st.dictionaries(_keys, _values, max_size=7),
                    st.dictionaries(_keys, _scalars, max_size=7), _values)


def _schema_answer(schema: ma.Schema, body):
    try:
        return schema.load(body)
    except ma.ValidationError:
        return None


def _typed(data):
    return None if data is None else {key: (type(value), value) for key, value in data.items()}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_bodies)
@example(body={"code": "x", "lat": 90, "lon": -180})
@example(body={"code": "x", "lat": "21.03", "lon": " 1e2 "})
@example(body={"code": "x", "lat": None, "lon": None, "device_id": None})
@example(body={"code": "x", "lat": True, "lon": 1})
@example(body={"code": "x", "lat": math.inf, "lon": 1})
@example(body={"code": "x", "source": None})
@example(body={"code": "x", "pin": "1234\n"})
@example(body={"code": "x", "pin": "12 34-56", "device_id": "d" * 128})
@example(body=[{"code": "x"}])
def test_the_compiled_loader_decides_as_the_schema(name, body):
    expected = _schema_answer(SCHEMAS[name], body)
    got = LOADERS[name](body)
    assert _typed(got) == _typed(expected)
    if got is not None:
        assert list(got) == list(expected)  # the schema's order


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=800, deadline=None)
@given(text=st.one_of(
    st.builds(json.dumps, _bodies),
    st.text(alphabet=st.sampled_from('{}[]":,0123456789.eE-+ abcodelatnu'), max_size=60)))
def test_decoded_json_text_is_decided_alike(name, text):
    from scanapp.extensions import load_json

    try:
        body = load_json(text)
    except ValueError:
        return  # refused before validation, on both paths (security.check_body_text/load_json)
    assert _typed(LOADERS[name](body)) == _typed(_schema_answer(SCHEMAS[name], body))


def test_a_plain_valid_scan_body_is_loaded_with_its_default():
    body = {"code": "https://s.example/01/1/21/A", "lat": 21, "lon": 105.5}
    assert LOADERS["scan"](body) == {"code": body["code"], "lat": 21.0, "lon": 105.5,
                                     "source": "api"}
    assert type(LOADERS["scan"](body)["lat"]) is float


def test_schemas_using_what_it_does_not_reproduce_are_refused_at_build():
    class WithPostLoad(Schema):
        a = ma.fields.String()

        @ma.post_load
        def _shape(self, data, **_kwargs):
            return data

    class WithDataKey(Schema):
        a = ma.fields.String(data_key="b")

    class Excluding(ma.Schema):
        class Meta:
            unknown = ma.EXCLUDE

        a = ma.fields.String()

    class WithFieldValidator(Schema):
        a = ma.fields.String()

        @ma.validates("a")
        def _check(self, value, **_kwargs):
            return None

    for schema in (WithPostLoad(), WithDataKey(), Excluding(), WithFieldValidator()):
        with pytest.raises(NotCompilable):
            compile_loader(schema)


def test_other_field_types_go_through_the_field_itself():
    class Mixed(Schema):
        n = ma.fields.Integer(required=True, validate=ma.validate.Range(1, 3))
        flag = ma.fields.Boolean(load_default=False)
        f = ma.fields.Float()  # no range: only allow_nan stands between it and infinity

    schema, load = Mixed(), compile_loader(Mixed())
    for body in ({"n": 2}, {"n": "2", "flag": "yes"}, {"n": 4}, {"n": 2.5}, {"n": True},
                 {"flag": True}, {"n": 1, "x": 1}, {"n": 1, "f": math.inf},
                 {"n": 1, "f": math.nan}, {"n": 1, "f": "-inf"}, {"n": 1, "f": 10**39}):
        assert _typed(load(body)) == _typed(_schema_answer(schema, body)), body
