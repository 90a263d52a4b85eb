"""Run mutmut's mutants of one file, each in a new Python process (scripts/mutation.sh with
MUTATION_FRESH=1; docs/RELIABILITY.md, "Mutation testing").

    python scripts/mutation_fresh.py SRC BUDGET_S NICE [MUTANT_PATTERN ...]

Run in the scratch copy after `mutmut run` has written mutants/. mutmut chooses the mutant
when a mutated function is called; code that runs at import (a decorator such as
`auth.access.requires` wrapping every view) is called in mutmut's parent process before any
mutant is chosen, so its forks never see one. Here each mutant gets a fresh interpreter that
imports the code with MUTANT_UNDER_TEST already set, and the module's whole test selection.

Checks first that the selection passes unmutated and fails with MUTANT_UNDER_TEST=fail
(mutmut's own sanity check), then runs each mutant: a test failure or a timeout kills it.
Results go to fresh-results.json (kept, so a run stopped by its budget resumes; named
mutants are run again) and fresh-results.txt in `mutmut results` format.
"""

from __future__ import annotations

import fnmatch
import json
import os
import pathlib
import re
import subprocess
import sys
import time
import tomllib

src, budget, nice, *patterns = sys.argv[1:]
budget_s = float(budget)
work = pathlib.Path.cwd()
mutants_dir = work / "mutants"
mutated = mutants_dir / src
if not mutated.exists():
    sys.exit(f"{mutated} was not written: see mutmut-run.log")

cfg = tomllib.loads((work / "pyproject.toml").read_text())["tool"]["mutmut"]
pytest_args = ["-x", "-q", "-p", "no:randomly", *cfg.get("pytest_add_cli_args", []),
               *cfg.get("pytest_add_cli_args_test_selection", [])]
module = src.removesuffix(".py").replace("/", ".")
names = [f"{module}.{n}" for n in re.findall(r"^\s*def (x\S+?__mutmut_\d+)\(",
                                              mutated.read_text(), flags=re.M)]
if patterns:
    names = [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)]

store = work / "fresh-results.json"
results: dict[str, str] = json.loads(store.read_text()) if store.exists() else {}


def run(mutant: str, timeout: float | None = None) -> tuple[int, float]:
    env = dict(os.environ, MUTANT_UNDER_TEST=mutant, PYTHONPATH=str(mutants_dir))
    start = time.monotonic()
    try:
        done = subprocess.run(["nice", "-n", nice, sys.executable, "-m", "pytest", *pytest_args],
                              cwd=mutants_dir, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout)
        code = done.returncode
    except subprocess.TimeoutExpired:
        code = -1
    return code, time.monotonic() - start


started = time.monotonic()
code, clean_s = run("")
if code != 0:
    sys.exit(f"the selection fails on the unmutated code (exit {code}): fix that first")
code, _ = run("fail")
if code == 0:
    sys.exit("the selection passes with MUTANT_UNDER_TEST=fail: no test runs this module")
print(f"clean run {clean_s:.0f} s; forced fail fails: good. {len(names)} mutants")

timeout_s = max(30.0, 10 * clean_s)
for name in names:
    if name in results and not patterns:
        continue
    if time.monotonic() - started > budget_s:
        print(f"stopped by the budget ({budget_s:.0f} s); run again to resume")
        break
    code, took = run(name, timeout_s)
    results[name] = "survived" if code == 0 else ("timeout" if code == -1 else "killed")
    print(f"{name}: {results[name]} ({took:.0f} s)", flush=True)
    store.write_text(json.dumps(results, indent=1))

with open(work / "fresh-results.txt", "w") as out:
    for name in sorted(results):
        out.write(f"    {name}: {results[name]}\n")
