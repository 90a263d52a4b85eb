"""The view-side guard, ``scanapp.auth.access.requires``, as callers and client generators
see it (mutation testing of auth/access.py, docs/RELIABILITY.md).

The guard's checks themselves (401, 403, the caller's principal) are walked endpoint by
endpoint in tests/security/test_authorization.py. What that walk cannot see is the API
document: a generated client, and the docs page's "Authorize" button, send the key only to
operations whose OpenAPI entry asks for ``bearerAuth``, and the guard is what writes it
there, on top of the responses flask-smorest documented below it."""

from __future__ import annotations

import re

from scanapp.auth.access import requires
from scanapp.auth.models import Role

from ..security.test_authorization import KEYED, PUBLIC, PUBLIC_METHODS

BEARER = [{"bearerAuth": []}]


def _operations(app, spec):
    """(method, endpoint, OpenAPI operation) for every documented rule of the app."""
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation = spec["paths"].get(path, {}).get(method.lower())
            if operation is not None:
                yield method, rule.endpoint, operation


def test_every_keyed_operation_asks_for_the_bearer_key_and_keeps_its_responses(app, client):
    spec = client.get("/api/openapi.json").get_json()
    keyed = public = 0
    for method, endpoint, operation in _operations(app, spec):
        where = f"{method} {endpoint}"
        if (method, endpoint) in KEYED:
            keyed += 1
            assert operation.get("security") == BEARER, where
            # The guard adds to what the view's own decorators documented, never replaces
            # it: the success answer's schema is still there.
            documented = [code for code in operation["responses"] if code[0] in "23"]
            assert documented, f"{where} lost its documented responses"
        elif endpoint in PUBLIC or (method, endpoint) in PUBLIC_METHODS:
            public += 1
            assert "security" not in operation, where
    # Enough of both to mean something (the API has dozens of each).
    assert keyed > 50 and public >= 5, (keyed, public)


def test_me_keeps_its_principal_schema_under_the_guard(client):
    spec = client.get("/api/openapi.json").get_json()
    ok = spec["paths"]["/api/v1/me"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Principal"}


def test_a_view_guarded_without_any_other_decorator_works(app, make_actor):
    """A plain Flask view (a file download, say) has no flask-smorest documentation for the
    guard to add to: it must still guard it, not fail when the app starts."""
    app.add_url_rule("/api/v1/_guard_probe", "guard_probe",
                     requires(Role.BRAND)(lambda: {"who": "brand"}))
    brand, printer = make_actor("brand"), make_actor("printer")
    assert brand.client.get("/api/v1/_guard_probe").status_code == 401
    assert printer.get("/api/v1/_guard_probe").status_code == 403
    answer = brand.get("/api/v1/_guard_probe")
    assert answer.status_code == 200 and answer.get_json() == {"who": "brand"}
