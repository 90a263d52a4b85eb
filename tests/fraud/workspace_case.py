"""A seeded case for the inspectors' workspace tests: a genuine stamp of a lot, copied and
flagged (Hà Nội, then Hồ Chí Minh City), with a consumer report, a field inspection and a
worked case; a second flagged code; a counterfeit cluster in Cần Thơ of 3 forged codes
scanned 5 times. Every string the pages may show from data is in ``Case.data``."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from scanapp.db import utcnow
from scanapp.fraud.workspace_text import STAMP_PAGE_TEXT, catalogue_values
from scanapp.regions import PROVINCES
from scanapp.risk.rules import AGGREGATE_SIGNALS, RULES

SERIAL_HN = "1HNHNHNHNHNHNHNHNHNH"
FORGED = ("9FAKE000000000000000", "9FAKE000000000000001", "9FAKE000000000000002")
CANTHO = (10.0452, 105.7469)
# A fixed moment for the time tests: 29/11/2026 20:05 UTC is 30/11/2026 03:05 in Vietnam.
FIXED_UTC = dt.datetime(2026, 11, 29, 20, 5, tzinfo=dt.UTC)


def ago(**kwargs) -> dt.datetime:
    return utcnow() - dt.timedelta(**kwargs)


@dataclass
class Case:
    serial: str
    gtin: str
    lot: str
    flag_id: int
    other_flag_id: int
    report_id: int
    data: list[str] = field(default_factory=list)


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, key: str) -> None:
    page = client.get("/inspect/login")
    token = csrf(page.get_data(as_text=True))
    response = client.post("/inspect/login", data={"key": key, "csrf_token": token})
    assert response.status_code == 302


@pytest.fixture
def case(app, client, brand, product, inspector, issue_stamps, scans, make_actor) -> Case:
    gtin = product["gtin"]
    stamp = issue_stamps(1, lot="L2411", expiry="2027-12-31")[0]
    # The lot's trace: made at the brand's workshop, 400 pieces shipped to a distributor.
    from tests.trace.conftest import gln

    def ok(response, status=201):
        assert response.status_code == status, response.get_json()
        return response.get_json()

    workshop = ok(brand.post("/api/v1/trace/locations", json={
        "gln": gln("893000000001"), "name": "Nhà thùng Phú Quốc", "kind": "factory",
        "province": "79"}))
    ok(brand.post("/api/v1/trace/lots", json={
        "gtin": gtin, "lot": "L2411", "quantity": 1000, "unit": "H87",
        "production_date": "2026-11-01", "location_id": workshop["id"]}))
    distributor = make_actor("brand", "Công ty Phân phối Hà Nội")
    party = distributor.get("/api/v1/trace/parties").get_json()[0]
    ok(distributor.patch(f"/api/v1/trace/parties/{party['id']}", json={
        "gln": gln("893000000009"), "province": "01"}), 200)
    warehouse = ok(distributor.post("/api/v1/trace/locations", json={
        "gln": gln("893000000003"), "name": "Kho Long Biên", "kind": "warehouse",
        "province": "01"}))
    ok(brand.post("/api/v1/trace/events/shipment", json={
        "location_id": workshop["id"], "event_time": "2026-11-05T08:00:00+07:00",
        "items": [{"gtin": gtin, "lot": "L2411", "quantity": 400, "unit": "H87"}],
        "to_party_id": party["id"], "to_location_id": warehouse["id"],
        "document": "PXK-2026-1105"}))
    scans.event(stamp.serial, gtin, province="01", at=ago(hours=3), device="a1b2c3d4e5")
    scans.flagged(stamp.serial, gtin, risk=92, reasons=("impossible_travel", "many_devices"),
                  province="79")
    scans.flagged(SERIAL_HN, gtin, risk=55, reasons=("out_of_market",), province="01")
    for i, serial in enumerate((*FORGED, FORGED[0], FORGED[1])):
        scans.event(serial, gtin, verdict="counterfeit", province="92",
                    point=(CANTHO[0] + 0.001 * i, CANTHO[1]), at=ago(hours=i + 1),
                    device=f"dev{i}")
    flags = inspector.get("/api/v1/flags").get_json()["items"]
    flag_id = next(f["id"] for f in flags if f["serial"] == stamp.serial)
    other = next(f["id"] for f in flags if f["serial"] == SERIAL_HN)
    done = inspector.post(f"/api/v1/flags/{flag_id}/case", json={
        "status": "investigating", "assignee": "Nguyễn Văn A",
        "note": "Đã liên hệ doanh nghiệp"})
    assert done.status_code == 200, done.get_json()
    inspected = inspector.post("/api/v1/inspections", json={
        "serial": stamp.serial, "finding": "counterfeit", "province": "79",
        "place": "Chợ Bến Thành, sạp 40", "note": "Tem in mờ"})
    assert inspected.status_code == 201, inspected.get_json()
    report = client.post("/v/report", data={
        "code": stamp.uri, "outcome": "suspicious", "problem": "fake", "lang": "vi",
        "where_bought": "Chợ Đồng Xuân, sạp 12", "details": "Nắp chai bị lỏng",
        "phone": "0912 345 678"}, content_type="multipart/form-data",
        headers={"Accept": "text/html"})
    assert report.status_code == 201
    report_id = int(re.search(r'data-report-id="(\d+)"', report.get_data(as_text=True))
                    .group(1))
    data = [stamp.serial, SERIAL_HN, *FORGED, gtin, "L2411", product["name"], "Brand A",
            "Inspectorate I", "Nguyễn Văn A", "Đã liên hệ doanh nghiệp",
            "Chợ Bến Thành, sạp 40", "Tem in mờ", "Chợ Đồng Xuân, sạp 12",
            "Nắp chai bị lỏng", "0912 345 678", stamp.uri, "a1b2c3d4",
            "Nhà thùng Phú Quốc", "Công ty Phân phối Hà Nội", "Kho Long Biên", "H87",
            *[f"dev{i}" for i in range(5)],
            *[p.name for p in PROVINCES.values()]]
    return Case(stamp.serial, gtin, "L2411", flag_id, other, report_id, data)


# -- the untranslated-string check ------------------------------------------------------------

ATTRIBUTES = ("title", "aria-label", "placeholder", "alt", "data-label", "data-confirm")
SKIP = ("script", "style")


class _Texts(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in SKIP:
            self._skip += 1
        for name, value in attrs:
            if name in ATTRIBUTES and value and value.strip():
                self.texts.append(value.strip())

    def handle_endtag(self, tag):
        if tag in SKIP:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def visible_texts(html: str) -> list[str]:
    parser = _Texts()
    parser.feed(html)
    return parser.texts


def vietnamese_fragments() -> list[str]:
    """Every literal piece of Vietnamese the workspace may show: its catalogue (split at the
    placeholders), the risk rules' Vietnamese titles and explanations, and the stamp page's
    words a consumer report repeats (problems, outcomes)."""
    values = list(catalogue_values("vi"))
    for rule in RULES:
        values += [rule.title_vi, rule.explanation_vi]
    for entry in AGGREGATE_SIGNALS.values():
        values += [entry["title_vi"], entry["explanation_vi"]]
    values += list(STAMP_PAGE_TEXT["vi"]["report"]["problems"].values())
    values += [title for title, _ in STAMP_PAGE_TEXT["vi"]["outcomes"].values()]
    pieces = set()
    for value in values:
        for piece in re.split(r"\{[^}]*\}", value):
            if piece.strip():
                pieces.add(piece.strip())
    return sorted(pieces, key=len, reverse=True)


WORDY = re.compile(r"[^\W\d_]{2,}")


def untranslated(html: str, data: list[str]) -> list[str]:
    """The visible texts of a page that hold a word neither from the Vietnamese catalogue
    nor from the case's own data (names, notes, codes)."""
    fragments = vietnamese_fragments()
    known = sorted(set(data), key=len, reverse=True)
    found = []
    for text in visible_texts(html):
        rest = text
        for piece in known:
            rest = rest.replace(piece, " ")
        for piece in fragments:
            rest = rest.replace(piece, " ")
        if WORDY.search(rest):
            found.append(text)
    return found
