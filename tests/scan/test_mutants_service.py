"""What a scan's answer says about where the code was scanned: promises mutation testing
found unasserted (docs/RELIABILITY.md, "Mutation testing", scanapp/scan/service.py)."""

from __future__ import annotations

from .test_scan_api import HANOI


def test_the_first_scan_names_its_province_in_both_languages(issue_stamps, scan):
    stamp = issue_stamps(1)[0]
    scan(stamp.uri, lat=HANOI[0], lon=HANOI[1], device_id="phone-1")
    status, body = scan(stamp.uri, device_id="phone-2")
    assert status == 200 and body["scan_count"] == 2
    first = body["first_scan"]
    assert (first["province"], first["province_name"], first["province_name_en"]) == (
        "01", "Hà Nội", "Hanoi")
    assert body["last_scan"]["province_name_en"] == "Hanoi"


def test_a_scan_without_a_position_has_no_province_names(issue_stamps, scan):
    stamp = issue_stamps(1)[0]
    status, body = scan(stamp.uri, device_id="phone-1")
    assert status == 200
    first = body["first_scan"]
    assert (first["province"], first["province_name"], first["province_name_en"]) == (
        None, None, None)
