"""Fuzz every documented operation from the app's own OpenAPI document (schemathesis).

In process (WSGI). Each operation runs with a key of each role that may call it, as decided
in ``test_authorization.KEYED`` (brand-only operations with a brand key, printer ones with a
printer key, ...), so generated requests get past authentication and the role check and
reach parsing, services and the database; a brand with a product and an authorised printer
exist, so lookups can find something. Public operations run without a key. Each (operation,
role) gets valid-by-schema cases and as many invalid ones. Checks: no 5xx ever; the status
code, content type and body match what the document declares.

Sizes (environment):
- quick (CI's default): ``FUZZ_EXAMPLES`` (15) examples per operation and mode, shared
  between the roles that may call it (at least 5 each), so the run costs what the
  admin-only run did;
- ``SCANAPP_FUZZ_NIGHTLY=1``: 100 examples per operation, mode *and role*;
- ``SCANAPP_FUZZ_EXAMPLES=N`` sets the per-role count outright.
Each run draws a new random seed and prints it; ``SCANAPP_FUZZ_SEED=<seed>`` replays a
failing run exactly (only to reproduce a failure: a fixed seed finds nothing new).

The figures (cases run, server errors, schema mismatches, the seed) are printed at the end
of the test (``pytest -s``) and in the failure message, for docs/RELIABILITY.md.
"""

from __future__ import annotations

import os
import random
import re
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import update

from scanapp.auth.models import ApiKey, Role
from scanapp.db import session_scope

from ..conftest import gtin14
from .test_authorization import KEYED

NIGHTLY = os.environ.get("SCANAPP_FUZZ_NIGHTLY", "0") == "1"
FUZZ_EXAMPLES = int(os.environ.get("SCANAPP_FUZZ_EXAMPLES", "100" if NIGHTLY else "15"))
# Quick runs share FUZZ_EXAMPLES between an operation's roles; explicit or nightly runs give
# every role the full count.
PER_ROLE = NIGHTLY or "SCANAPP_FUZZ_EXAMPLES" in os.environ
MIN_PER_ROLE = 5
SEED = int(os.environ.get("SCANAPP_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _keep_key_alive(app, key_id: int) -> None:
    """Fuzzing the revoke endpoint may revoke the fuzzer's own key; undo that."""
    with session_scope(app) as session:
        session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=None))
        session.commit()


def _openapi_path(rule: str) -> str:
    """Flask's ``/x/<int:item_id>`` as OpenAPI's ``/x/{item_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def callers(app) -> dict[tuple[str, str], frozenset[Role] | None]:
    """(METHOD, OpenAPI path) -> the roles that may call it; None for a public operation."""
    found: dict[tuple[str, str], frozenset[Role] | None] = {}
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found[(method, _openapi_path(rule.rule))] = KEYED.get((method, rule.endpoint))
    return found


def examples_for(roles: int) -> int:
    if PER_ROLE:
        return FUZZ_EXAMPLES
    return max(MIN_PER_ROLE, round(FUZZ_EXAMPLES / max(roles, 1)))


def _fuzz_one(app, operation, mode, actor, label, examples, seed_value, stats,
              problems) -> None:
    """One operation, one generation mode, one caller."""
    headers = {"Authorization": f"Bearer {actor.key}"} if actor else {}

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call(headers=headers)
        stats["cases"] += 1
        stats[f"cases as {label}"] += 1
        stats[f"{response.status_code // 100}xx"] += 1
        if (actor is not None and "revoke" in case.operation.path
                and response.status_code == 200):
            _keep_key_alive(app, actor.key_id)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        # schemathesis raises a BaseExceptionGroup of failures: record, go on.
        except (Exception, BaseExceptionGroup) as exc:
            kind = "server error" if response.status_code >= 500 else "mismatch"
            stats[kind] += 1
            failures = getattr(exc, "exceptions", (exc,))
            first_line = "; ".join(
                f"{getattr(f, 'title', type(f).__name__)}: "
                f"{' '.join(str(getattr(f, 'message', f)).split())[:200]}"
                for f in failures)
            problems.append(
                f"{case.operation.method.upper()} {case.operation.path} as {label}"
                f" -> {response.status_code} ({kind}): {first_line}\n"
                f"    {case.as_curl_command()}"[:900])

    try:
        run()
    except Unsatisfiable:
        # Nothing invalid to generate (an operation without inputs).
        stats[f"no cases {mode.value}"] += 1
        return
    stats[f"operations {mode.value}"] += 1


def fuzz(app, actors: dict, seed_value: int = SEED) -> tuple[Counter, list[str]]:
    """``actors``: role -> Actor. Every operation runs once per role that may call it."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    who = callers(app)
    stats: Counter = Counter()
    problems: list[str] = []

    for result in schema.get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        assert key in who, f"{key} is documented but not served"
        roles = who[key]
        runs = [(None, None)] if roles is None else [
            (role, actors[role]) for role in Role if role in roles]
        for role, actor in runs:
            label = role.value if role else "public"
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz_one(app, operation, mode, actor, label, examples_for(len(runs)),
                          seed_value, stats, problems)
    return stats, problems


@pytest.fixture
def actors(admin, brand, printer, inspector, authority):
    """One key per role, with something to find: a product and an authorised printer."""
    made = brand.post("/api/v1/products", json={"gtin": gtin14("0893456789036"),
                                                "name": "Cà phê thử"})
    assert made.status_code == 201, made.get_json()
    granted = brand.post("/api/v1/printer-authorisations",
                         json={"printer_org_id": printer.org_id})
    assert granted.status_code == 201, granted.get_json()
    return {Role.ADMIN: admin, Role.BRAND: brand, Role.PRINTER: printer,
            Role.INSPECTOR: inspector, Role.AUTHORITY: authority}


@pytest.mark.slow
def test_fuzzing_the_openapi_document_finds_no_server_error_or_mismatch(app, actors):
    stats, problems = fuzz(app, actors)
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(stats.items()))
    size = "nightly" if NIGHTLY else "quick"
    print(f"\nschemathesis ({app.config['DATABASE_URL'].split(':')[0]}, {size}, "
          f"SCANAPP_FUZZ_SEED={SEED}): {summary}")
    assert stats["cases"] > 0
    for role in Role:  # every role's own operations were reached
        assert stats[f"cases as {role.value}"] > 0, role
    assert not problems, (f"reproduce with SCANAPP_FUZZ_SEED={SEED}\n" + summary + "\n"
                          + "\n".join(sorted(set(problems))[:30]))
