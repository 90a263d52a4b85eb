"""Fuzz every documented operation from the app's own OpenAPI document (schemathesis).

In process (WSGI), with a valid admin key so that generated requests get past
authentication and reach parsing, services and the database. Each operation gets
``FUZZ_EXAMPLES`` valid-by-schema cases and as many invalid ones. Checks: no 5xx ever;
the status code, content type and body match what the document declares.

The figures (cases run, server errors, schema mismatches) are printed at the end of the
test (``pytest -s``) and in the failure message, for docs/RELIABILITY.md.
Set SCANAPP_FUZZ_EXAMPLES for a longer run (CI keeps the default small).
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import update

from scanapp.auth.models import ApiKey
from scanapp.db import session_scope

FUZZ_EXAMPLES = int(os.environ.get("SCANAPP_FUZZ_EXAMPLES", "15"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _keep_key_alive(app, key_id: int) -> None:
    """Fuzzing the revoke endpoint may revoke the fuzzer's own key; undo that."""
    with session_scope(app) as session:
        session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=None))
        session.commit()


def fuzz(app, key: str, key_id: int, examples: int) -> tuple[Counter, list[str]]:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    stats: Counter = Counter()
    problems: list[str] = []
    headers = {"Authorization": f"Bearer {key}"}

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                response = case.call(headers=headers)
                stats["cases"] += 1
                stats[f"{response.status_code // 100}xx"] += 1
                if "revoke" in case.operation.path and response.status_code == 200:
                    _keep_key_alive(app, key_id)
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
                    problems.append(f"{case.operation.method.upper()} {case.operation.path} "
                                    f"-> {response.status_code} ({kind}): {first_line}\n"
                                    f"    {case.as_curl_command()}"[:900])

            try:
                run()
            except Unsatisfiable:
                # Nothing invalid to generate (an operation without inputs): nothing to run.
                stats[f"no cases {mode.value}"] += 1
                continue
            stats[f"operations {mode.value}"] += 1
    return stats, problems


@pytest.mark.slow
def test_fuzzing_the_openapi_document_finds_no_server_error_or_mismatch(app, admin):
    stats, problems = fuzz(app, admin.key, admin.key_id, FUZZ_EXAMPLES)
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(stats.items()))
    print(f"\nschemathesis ({app.config['DATABASE_URL'].split(':')[0]}): {summary}")
    assert stats["cases"] > 0
    assert not problems, summary + "\n" + "\n".join(sorted(set(problems))[:30])
