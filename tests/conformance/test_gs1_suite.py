"""GS1's own resolver test suite, run unmodified in headless Chromium (see gs1_suite.py).

The suite is not in this repository: it is fetched code, which this workplace does not let
us commit. When a checkout of gs1/GS1DL-resolver-testsuite is provided beside the clone,
at ``../shared/gs1-resolver-testsuite`` (CI gets a copy of shared/ there) or wherever
``SCANAPP_GS1_SUITE`` points, this test runs it for a stamp, a lot and a product URI and
fails on any failed test of the suite (a SHALL) and on any warning (a SHOULD); otherwise it
is skipped with the reason. Our own tests of the same SHALLs (test_resolver_shall.py) run
either way.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .gs1_suite import CHROMIUM, run_suite

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SUITE = Path(os.environ.get("SCANAPP_GS1_SUITE",
                            REPO.parent / "shared" / "gs1-resolver-testsuite"))


def test_gs1_resolver_test_suite_passes_every_shall():
    if not (SUITE / "GS1DigitalLinkResolverTestSuite.js").is_file():
        pytest.skip(f"GS1's resolver test suite is not provided at {SUITE} (a checkout of "
                    "gs1/GS1DL-resolver-testsuite; fetched code is not committed here)")
    if not Path(CHROMIUM).exists() or shutil.which("openssl") is None:
        pytest.skip("needs Chromium and openssl")
    runs = run_suite(SUITE, int(os.environ.get("SCANAPP_SUITE_PORT", "0")))
    assert len(runs) == 3
    report = "\n".join(f"{run.uri}: {run.tally()}\n" + "\n".join(
        f"  [{r['status']}] {r['id']}: {r['msg']}" for r in run.failures + run.warnings)
        for run in runs)
    print(report)
    for run in runs:
        assert run.count("pass") >= 20, report  # the suite really ran to its linkset tests
        assert not run.failures, report
        assert not run.warnings, report
