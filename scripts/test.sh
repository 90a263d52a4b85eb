#!/usr/bin/env bash
# Install scanapp with its test and load-test tools into .venv and run the whole test suite.
# Without SCANAPP_TEST_DATABASE_URL / SCANAPP_TEST_REDIS_URL the PostgreSQL+Redis half of
# the suite is skipped with the reason; with them it runs too. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test,load]' >/dev/null
exec .venv/bin/python -m pytest "$@"
