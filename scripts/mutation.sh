#!/usr/bin/env bash
# Mutation testing of one module with mutmut 3 (docs/RELIABILITY.md, "Mutation testing").
#
#   scripts/mutation.sh codec            # or: rules engine security service store
#                                        #     redis_store access auth webhooks
#   MUTATION_BUDGET_S=1800 scripts/mutation.sh rules
#   scripts/mutation.sh codec 'scanapp.serials.codec.x*encode__mutmut_4'   # re-check these
#   MUTATION_TESTS_FROM=/path/to/older/checkout scripts/mutation.sh rules  # "before" score
#   MUTATION_TESTS='"tests/auth/test_keys.py"' scripts/mutation.sh auth \
#       'scanapp.auth.service.x_authenticate*'     # some functions against fewer tests
#
# Named mutants are run again even if they have a result, with the test coverage collected
# afresh (after new tests were written: the re-check of survivors). MUTATION_TESTS_FROM
# takes tests/ from another checkout, to score the code against the tests it had before.
#
# Runs in a scratch copy (MUTATION_DIR, default /tmp/scanapp-mutation/<module>) so that the
# module's own test selection can be written into that copy's [tool.mutmut], at nice 15
# (MUTATION_NICE) with
# one mutant at a time (the machine is shared), time-boxed by MUTATION_BUDGET_S (default 20
# minutes). Prints mutmut's results (killed / survived / timeout per mutant) and the score.
# MUTATION_FRESH=1 (the default for access) runs every mutant in a new Python process instead
# of mutmut's forks: needed where the mutated code runs when the module is imported. mutmut
# picks a mutant when a function is called; `auth.access.requires` is called once, while the
# views are decorated at import, in mutmut's parent process before any mutant is chosen, so
# every request would run the original guard (and its "forced fail" sanity check fails: no
# test can fail). Its coverage pass also credits such calls to the first test only. A fresh
# process imports scanapp with MUTANT_UNDER_TEST already set, and runs the module's whole
# selection for every mutant (about 12 s each for access).
# Without SCANAPP_TEST_DATABASE_URL / SCANAPP_TEST_REDIS_URL the services-stack tests skip,
# which is what a mutation run wants except for redis_store and service: the scan path's
# Redis store, its degraded fallback and the forged-code rate-limit round trip run only on
# the services stack (export them for those; each test then runs on both stacks).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/../../venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
MUTMUT="$(dirname "$PYTHON")/mutmut"
MODULE="${1:?usage: scripts/mutation.sh MODULE [MUTANT_NAME ...]}"
shift
TESTS_FROM="${MUTATION_TESTS_FROM:-$ROOT}"
BUDGET="${MUTATION_BUDGET_S:-1200}"
NICE="${MUTATION_NICE:-15}"

FRESH_DEFAULT=0
case "$MODULE" in
  codec)       SRC=scanapp/serials/codec.py;   TESTS='"tests/serials/test_codec.py", "tests/serials/test_keys.py", "tests/security/test_forgery.py"' ;;
  rules)       SRC=scanapp/risk/rules.py;     TESTS='"tests/fraud/test_rules.py", "tests/scan/test_promises.py"' ;;
  engine)      SRC=scanapp/risk/engine.py;    TESTS='"tests/fraud/test_rules.py", "tests/fraud/test_mutants_engine.py", "tests/fraud/test_flag_batches.py", "tests/scan/test_promises.py"' ;;
  security)    SRC=scanapp/security.py;        TESTS='"tests/security/test_headers.py", "tests/security/test_request_limits.py", "tests/security/test_log_hygiene.py", "tests/security/test_promises.py", "tests/security/test_mutants_security.py"' ;;
  service)     SRC=scanapp/scan/service.py;    TESTS='"tests/scan/test_scan_api.py", "tests/scan/test_mutants_service.py", "tests/scan/test_service_paths.py", "tests/scan/test_promises.py", "tests/scan/test_flags_in_background.py", "tests/scan/test_pin_attacks.py", "tests/scan/test_rate_limit.py", "tests/scan/test_redis_outage.py"' ;;
  store)       SRC=scanapp/scan/store.py;      TESTS='"tests/scan/test_store_contract.py", "tests/scan/test_mutants_store.py", "tests/scan/test_promises.py"' ;;
  redis_store) SRC=scanapp/scan/redis_store.py; TESTS='"tests/scan/test_store_contract.py", "tests/reliability/test_redis_state.py", "tests/scan/test_redis_outage.py"' ;;
  access)      SRC=scanapp/auth/access.py;     TESTS='"tests/security/test_authorization.py", "tests/auth"'; FRESH_DEFAULT=1 ;;
  auth)        SRC=scanapp/auth/service.py;    TESTS='"tests/security/test_authorization.py", "tests/auth"' ;;
  webhooks)    SRC=scanapp/fraud/webhooks.py;  TESTS='"tests/fraud/test_webhooks.py", "tests/fraud/test_mutants_webhooks.py", "tests/fraud/test_webhooks_delivery.py", "tests/fraud/test_webhook_ssrf.py"' ;;
  *) echo "unknown module $MODULE" >&2; exit 2 ;;
esac
# A narrower selection for one run (a time box on a loaded machine), e.g.
# MUTATION_TESTS='"tests/auth/test_keys.py"'
TESTS="${MUTATION_TESTS:-$TESTS}"

WORK="${MUTATION_DIR:-/tmp/scanapp-mutation}/$MODULE"
mkdir -p "$WORK"
# A fresh copy of the code and tests each run; mutmut's own state (mutants/) is kept so a
# time-boxed run resumes where it stopped.
rm -rf "$WORK/scanapp" "$WORK/tests"
rm -rf "$WORK/loadtests"
# loadtests/ (also copied into mutants/ by also_copy): some tests start a private Redis with
# its helpers (tests/scan/test_redis_outage.py).
cp -rp "$ROOT/scanapp" "$ROOT/loadtests" "$ROOT/pyproject.toml" "$WORK/"
cp -rp "$TESTS_FROM/tests" "$WORK/"
find "$WORK" -name __pycache__ -prune -exec rm -rf {} +
"$PYTHON" - "$WORK/pyproject.toml" "$SRC" "$TESTS" <<'PY'
import re, sys
import os
path, src, tests = sys.argv[1:]
# Only the test files this copy has (an older checkout may lack the newer ones).
work = os.path.dirname(path)
tests = ", ".join(t for t in (x.strip() for x in tests.split(","))
                  if os.path.exists(os.path.join(work, t.strip('"'))))
text = open(path).read()
text = re.sub(r'^only_mutate = .*$', f'only_mutate = ["{src}"]\nalso_copy = ["loadtests"]',
              text, flags=re.M)
text = re.sub(r'^pytest_add_cli_args_test_selection = .*$',
              f'pytest_add_cli_args_test_selection = [{tests}]', text, flags=re.M)
open(path, "w").write(text)
PY

cd "$WORK"
export PYTHONPATH="$WORK"
if [ "$#" -gt 0 ]; then
  rm -f mutants/mutmut-stats.json  # which tests cover what: collect again with the new tests
fi
status=0
if [ "${MUTATION_FRESH:-$FRESH_DEFAULT}" = 1 ]; then
  # mutmut only writes the mutants here: a name that matches none stops its run after the
  # coverage pass ("nothing matches"), before it would run any mutant itself.
  nice -n "$NICE" "$MUTMUT" run --max-children 1 'generate.only.no_such_mutant' \
    > mutmut-run.log 2>&1 || true
  "$PYTHON" "$ROOT/scripts/mutation_fresh.py" "$SRC" "$BUDGET" "$NICE" "$@" || status=$?
  cp fresh-results.txt results.txt
else
timeout --signal=INT "$BUDGET" nice -n "$NICE" "$MUTMUT" run --max-children 1 "$@" || status=$?
[ "$status" = 124 ] && echo "mutation run stopped by its budget (${BUDGET}s); run again to resume"
nice -n "$NICE" "$MUTMUT" results --all true > results.txt 2>&1 || nice -n "$NICE" "$MUTMUT" results > results.txt 2>&1 || true
fi
"$PYTHON" - "$SRC" <<'PY'
import collections, re, sys
counts = collections.Counter()
for line in open("results.txt"):
    m = re.match(r"\s*(\S+): (killed|survived|timeout|suspicious|no tests|not checked|skipped|segfault|caught by type check)", line)
    if m:
        counts[m.group(2)] += 1
killed = counts["killed"] + counts["timeout"] + counts["caught by type check"]
judged = killed + counts["survived"] + counts["no tests"]
score = 100.0 * killed / judged if judged else 0.0
print(f"{sys.argv[1]}: {dict(counts)}; score {score:.1f}% ({killed}/{judged})")
PY
grep -E ": (survived|no tests)" results.txt || true
