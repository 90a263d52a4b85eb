"""Reports reuse the scan fixtures (issued stamps, scans)."""

from tests.scan.conftest import clock, issue_stamps, scan  # noqa: F401
