"""The market inspectors' workspace (/inspect) without a browser: Vietnamese first on every
page (and a check that fails on an untranslated string), the language switch, Vietnam time,
hotspots that open onto the scans behind them, the server-drawn map, the CSP."""

from __future__ import annotations

import csv
import io
import re

from scanapp.auth.models import Role
from scanapp.auth.service import Principal
from scanapp.db import session_scope
from scanapp.fraud import map as fraud_map
from scanapp.fraud.hotspots import hotspot_scans
from scanapp.fraud.workspace_text import TEXT, catalogue_values, vn_time
from scanapp.regions import cell_of
from tests.fraud.workspace_case import (
    CANTHO,
    FIXED_UTC,
    FORGED,
    SERIAL_HN,
    csrf,
    sign_in,
    untranslated,
    visible_texts,
)


def _pages(app, case, key: str) -> dict[str, tuple[int, str]]:
    """Every workspace page for the seeded case, in Vietnamese (the default)."""
    client = app.test_client()
    pages = {"login": client.get("/inspect/login")}
    sign_in(client, key)
    pages["queue"] = client.get("/inspect/")
    pages["queue_filtered_bad"] = client.get("/inspect/?province=99&min_risk=abc")
    pages["hotspot_province"] = client.get("/inspect/hotspots?province=92")
    pages["hotspot_cell"] = client.get(f"/inspect/hotspots?cell={cell_of(*CANTHO)}")
    pages["dossier"] = client.get(f"/inspect/codes/{case.serial}")
    pages["dossier_forged"] = client.get(f"/inspect/codes/{FORGED[0]}")
    pages["dossier_other"] = client.get(f"/inspect/codes/{SERIAL_HN}")
    pages["report"] = client.get(f"/inspect/reports/{case.report_id}")
    lot_id = int(re.search(r'href="/inspect/lots/(\d+)/lineage/backward"',
                           pages["dossier"].get_data(as_text=True)).group(1))
    pages["lineage_backward"] = client.get(f"/inspect/lots/{lot_id}/lineage/backward")
    pages["lineage_forward"] = client.get(f"/inspect/lots/{lot_id}/lineage/forward")
    pages["error_unknown_lot"] = client.get("/inspect/lots/999999/lineage/forward")
    pages["error_unknown_code"] = client.get("/inspect/codes/1NOPENOPENOPENOPENOP")
    pages["error_bad_cell"] = client.get("/inspect/hotspots?cell=abc")
    pages["error_no_page"] = client.get("/inspect/nothing-here")
    token = csrf(pages["dossier"].get_data(as_text=True))
    pages["error_csrf"] = client.post(f"/inspect/flags/{case.flag_id}/case",
                                      data={"status": "resolved", "csrf_token": "forged"})
    # A refused move (investigating -> resolved) and a done one: both flashes.
    pages["flash_refused"] = client.post(f"/inspect/flags/{case.flag_id}/case", data={
        "status": "resolved", "csrf_token": token}, follow_redirects=True)
    pages["flash_done"] = client.post(f"/inspect/flags/{case.flag_id}/case", data={
        "status": "confirmed_counterfeit", "note": "Thu giữ 40 chai", "csrf_token": token},
        follow_redirects=True)
    out = {}
    for name, response in pages.items():
        out[name] = (response.status_code, response.get_data(as_text=True))
        response.close()
    return out


def test_every_workspace_page_speaks_vietnamese(app, case, inspector):
    pages = _pages(app, case, inspector.key)
    expected = {"login": 200, "queue": 200, "queue_filtered_bad": 200, "hotspot_province": 200,
                "hotspot_cell": 200, "dossier": 200, "dossier_forged": 200,
                "dossier_other": 200, "report": 200, "lineage_backward": 200,
                "lineage_forward": 200, "error_unknown_lot": 404, "error_unknown_code": 404,
                "error_bad_cell": 422, "error_no_page": 404, "error_csrf": 400,
                "flash_refused": 200, "flash_done": 200}
    assert {name: status for name, (status, _) in pages.items()} == expected
    data = [*case.data, "Thu giữ 40 chai", "1NOPENOPENOPENOPENOP", "PXK-2026-1105"]
    problems = {name: untranslated(html, data) for name, (_, html) in pages.items()}
    assert {name: found for name, found in problems.items() if found} == {}
    # What the pages say is really there, in Vietnamese, with no raw signal id.
    dossier = pages["dossier"][1]
    for words in ("Di chuyển bất khả thi", "Quá nhiều điện thoại", "Đang xử lý",
                  "Hàng giả", "Phản ánh về mã này", "Nghi hàng giả, hàng nhái",
                  "Lô hàng L2411", "giờ Việt Nam", "Hệ thống cảnh báo"):
        assert words in dossier, words
    assert "impossible_travel" not in "".join(visible_texts(dossier))
    # The lot: made where, shipped to whom, not recalled; links to its trace.
    lot = re.search(r'id="lot-section">.*?</section>', dossier, re.S).group(0)
    assert "Lô chưa bị thu hồi." in lot and "Nhà thùng Phú Quốc" in lot
    assert "05/11/2026 08:00 · Công ty Phân phối Hà Nội · 400 cái" in lot
    assert re.search(r'href="/inspect/lots/\d+/lineage/backward"', lot)
    # The lineage pages a signed-in inspector follows from there (no API key in a header):
    # the lot, where it was made and the shipment to the distributor, in Vietnamese.
    back, forward = pages["lineage_backward"][1], pages["lineage_forward"][1]
    assert "Chuỗi nguồn gốc lô L2411" in back and "Nhà thùng Phú Quốc" in back
    assert "Lô này không làm từ lô nào khác trong hệ thống." in back
    assert "Chuỗi phân phối lô L2411" in forward
    assert re.search(r"05/11/2026 08:00</time> · Xuất hàng · 400 cái · từ Brand A · "
                     r"đến Công ty Phân phối Hà Nội .*chứng từ PXK-2026-1105", forward)
    assert f'href="/api/v1/trace/public/lots/{case.gtin}/L2411"' in lot
    assert "Vụ việc đang ở trạng thái «Đang xử lý» không thể chuyển sang «Đã đóng»" in \
        pages["flash_refused"][1]
    assert "Đã cập nhật vụ việc." in pages["flash_done"][1]
    # The queue row of the reported code says so, and links to the dossier's reports.
    assert f'href="/inspect/codes/{case.serial}#code-reports">1 phản ánh</a>' in \
        pages["queue"][1]
    assert "Biểu mẫu đã hết hạn" in pages["error_csrf"][1]
    assert "Không có mã 1NOPENOPENOPENOPENOP nào" in pages["error_unknown_code"][1]


def test_the_untranslated_check_catches_english(app, case, inspector):
    """The check above can fail: an English literal added to a page, the English catalogue
    and a key missing from the catalogue are all caught."""
    client = app.test_client()
    sign_in(client, inspector.key)
    html = client.get(f"/inspect/codes/{case.serial}").get_data(as_text=True)
    assert untranslated(html, case.data) == []
    added = html.replace("</main>", "<p>Case updated</p><span title=\"Open the scans\">"
                                    "5</span></main>")
    assert untranslated(added, case.data) == ["Case updated", "Open the scans"]
    english = client.get(f"/inspect/codes/{case.serial}?lang=en").get_data(as_text=True)
    found = untranslated(english, case.data)
    assert "Code dossier" in found and "Audit trail" in found
    missing = html.replace("</main>", "<p>dossier.no_such_key</p></main>")
    assert untranslated(missing, case.data) == ["dossier.no_such_key"]


def test_both_catalogues_have_the_same_keys():
    def keys(node, prefix=""):
        if isinstance(node, dict):
            return {k for key, child in node.items() for k in keys(child, f"{prefix}.{key}")}
        return {prefix}

    assert keys(TEXT["vi"]) == keys(TEXT["en"])
    # Vietnamese is written with its diacritics, not folded to ASCII.
    assert sum(1 for v in catalogue_values("vi") if re.search(r"[ạảãàáâậầấẩẫăắằặẳẵđêếềệểễ"
                                                             r"ôốồộổỗơớờợởỡưứừựửữ]", v)) > 150


def test_the_language_switch_is_kept_for_the_session(app, case, inspector):
    client = app.test_client()
    sign_in(client, inspector.key)
    assert "Hàng đợi mã bị cảnh báo" in client.get("/inspect/").get_data(as_text=True)
    english = client.get("/inspect/?lang=en").get_data(as_text=True)
    assert "Flagged codes queue" in english and '<html lang="en">' in english
    later = client.get(f"/inspect/codes/{case.serial}").get_data(as_text=True)
    assert "Code dossier" in later and "Impossible travel" in later
    assert "Hàng đợi mã bị cảnh báo" in client.get("/inspect/?lang=vi").get_data(as_text=True)
    # A new browser starts in Vietnamese whatever it prefers.
    other = app.test_client()
    sign_in(other, inspector.key)
    page = other.get("/inspect/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Hàng đợi mã bị cảnh báo" in page.get_data(as_text=True)


def test_times_are_vietnam_time_and_say_so(app, case, inspector, scans):
    scans.event(case.serial, case.gtin, province="01", at=FIXED_UTC, device="fixed")
    client = app.test_client()
    sign_in(client, inspector.key)
    dossier = client.get(f"/inspect/codes/{case.serial}").get_data(as_text=True)
    assert "30/11/2026 03:05:00" in dossier and "giờ Việt Nam" in dossier
    assert "2026-11-29 20:05" not in dossier
    queue = client.get("/inspect/").get_data(as_text=True)
    flag = inspector.get(f"/api/v1/flags/{case.flag_id}").get_json()
    from datetime import datetime

    raised = datetime.fromisoformat(flag["raised_at"].replace("Z", "+00:00"))
    assert vn_time(raised, "vi") in queue and "(giờ Việt Nam)" in queue
    assert vn_time(FIXED_UTC, "en") == "30 Nov 2026 03:05"
    # The CSV's header names the zone and its times carry the +07:00 offset.
    response = client.get("/inspect/flags.csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    column = "Cảnh báo lúc (giờ Việt Nam, UTC+7)"
    assert column in rows[0] and all(r[column].endswith("+07:00") for r in rows)


def test_a_hotspot_opens_the_scans_behind_it(app, case, inspector):
    client = app.test_client()
    sign_in(client, inspector.key)
    queue = client.get("/inspect/").get_data(as_text=True)
    # Cần Thơ's row: 3 forged codes in 5 scans, each count labelled, the name a link.
    row = re.search(r'<tr class="hot">.*?</tr>', queue, re.S).group(0)
    assert "Cần Thơ" in row and 'href="/inspect/hotspots?province=92"' in row
    cells = re.findall(r'data-label="([^"]+)">(\d+)</td>', row)
    assert cells == [("Mã giả", "3"), ("Lượt quét mã giả", "5"), ("Mã bị cảnh báo", "0"),
                     ("Lượt quét mã bị cảnh báo", "0")]
    assert f'href="/inspect/hotspots?cell={cell_of(*CANTHO)}"' in queue  # bubble and row

    opened = client.get("/inspect/hotspots?province=92").get_data(as_text=True)
    assert re.search(r'id="forged-codes">3<', opened) and \
        re.search(r'id="forged-scans">5<', opened)
    rows = re.findall(r'<tr class="verdict-counterfeit">', opened)
    assert len(rows) == 5
    for serial in FORGED:
        assert f'href="/inspect/codes/{serial}"' in opened
    assert "Nước mắm thử" in opened and "Tem giả" in opened
    # Flagged codes behind Hồ Chí Minh: the copied stamp, counted once as a code.
    hcm = client.get("/inspect/hotspots?province=79").get_data(as_text=True)
    assert re.search(r'id="flagged-codes">1<', hcm) and case.serial in hcm
    assert client.get("/inspect/hotspots").status_code == 422  # neither province nor cell
    assert client.get("/inspect/hotspots?province=99").status_code == 422


def test_hotspot_scans_keep_the_brand_scoping(app, case, make_actor):
    other = make_actor("brand", "Brand B")
    with session_scope(app) as session:
        seen_by_other = hotspot_scans(session, Principal(
            key_id=other.key_id, org_id=other.org_id, org_name="Brand B", role=Role.BRAND),
            province="92")
        assert seen_by_other["total"] == 0 and seen_by_other["scans"] == []


def test_the_map_draws_borders_a_legend_and_names_that_do_not_collide(app, case, inspector):
    client = app.test_client()
    sign_in(client, inspector.key)
    html = client.get("/inspect/").get_data(as_text=True)
    svg = re.search(r'<svg class="map hotspot-map".*?</svg>', html, re.S).group(0)
    assert len(re.findall(r'<path d="M', svg)) == 34  # every unit's border
    assert 'class="province hot"' in svg and "Chú giải" in html  # shaded, with a legend
    assert "http" not in svg  # nothing fetched from elsewhere

    spots = {"provinces": [{"province": "92", "forged": 5, "forged_codes": 3, "flagged": 0,
                            "flagged_codes": 0, "hotspot": True}],
             "cells": [{"cell": cell_of(*CANTHO), "lat": CANTHO[0], "lon": CANTHO[1],
                        "province": "92", "forged": 50, "forged_codes": 3, "flagged": 0,
                        "flagged_codes": 0, "hotspot": True}]}
    with app.test_request_context("/inspect/"):
        drawn = fraud_map.hotspot_map(spots["provinces"], spots["cells"])
    boxes = [fraud_map._label_box(lb.x, lb.y, lb.text, lb.anchor, fraud_map.FONT)
             for lb in drawn.labels]
    for i, a in enumerate(boxes):  # no two names overlap
        assert not any(fraud_map._overlaps(a, b) for b in boxes[i + 1:])
    bubble = drawn.bubbles[0]
    cantho = next(lb for lb in drawn.labels if lb.text == "Cần Thơ")  # still named ...
    assert not fraud_map._overlaps(  # ... beside its bubble, not under it
        fraud_map._label_box(cantho.x, cantho.y, cantho.text, cantho.anchor, fraud_map.FONT),
        fraud_map._circle_box(bubble.x, bubble.y, bubble.r))
    assert len(drawn.labels) >= 30


def test_the_workspace_keeps_its_strict_csp(app, case, inspector):
    client = app.test_client()
    sign_in(client, inspector.key)
    for path in ("/inspect/", f"/inspect/codes/{case.serial}", "/inspect/hotspots?province=92"):
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        scripts = re.search(r"script-src ([^;]+)", policy).group(1)
        assert "unsafe-inline" not in scripts and "unsafe-eval" not in scripts
        html = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script
        assert not re.search(r"\son[a-z]+=", html)  # no inline event handler
        assert not re.search(r'(src|href)="https?://', html)  # nothing from elsewhere


def test_a_recalled_lot_shows_in_the_dossier(app, case, inspector):
    lots = inspector.get("/api/v1/trace/lots").get_json()
    lot_id = next(lot["id"] for lot in lots if lot["lot"] == "L2411")
    recalled = inspector.post(f"/api/v1/trace/lots/{lot_id}/recall",
                              json={"reason": "Nhiễm khuẩn"})
    assert recalled.status_code == 200, recalled.get_json()
    client = app.test_client()
    sign_in(client, inspector.key)
    html = client.get(f"/inspect/codes/{case.serial}").get_data(as_text=True)
    assert re.search(r'id="lot-recall">Lô đã bị thu hồi: Nhiễm khuẩn · từ \d\d/\d\d/2026 '
                     r'\d\d:\d\d · bởi Inspectorate I', html)
    assert untranslated(html, [*case.data, "Nhiễm khuẩn"]) == []


def test_an_inspector_downloads_a_lots_trace_from_the_workspace(app, case, inspector, brand):
    """The dossier's spreadsheet link works with the sign-in cookie alone; it is the API's
    export (same rows), and a signed-out browser is sent to sign in, not given the file."""
    client = app.test_client()
    sign_in(client, inspector.key)
    dossier = client.get(f"/inspect/codes/{case.serial}").get_data(as_text=True)
    link = re.search(r'href="(/inspect/lots/(\d+)/trace\.xlsx)"', dossier)
    assert link, "the dossier links the lot's spreadsheet"
    lot_id = int(link.group(2))
    xlsx = client.get(link.group(1))
    assert xlsx.status_code == 200
    assert xlsx.mimetype.endswith("spreadsheetml.sheet") and xlsx.data[:2] == b"PK"
    page_csv = client.get(f"/inspect/lots/{lot_id}/trace.csv?direction=forward")
    api_csv = brand.get(f"/api/v1/trace/lots/{lot_id}/export?format=csv&direction=forward")
    assert page_csv.status_code == api_csv.status_code == 200
    assert page_csv.data == api_csv.data and "PXK-2026-1105" in page_csv.get_data(as_text=True)
    bad = client.get(f"/inspect/lots/{lot_id}/trace.csv?direction=sideways")
    assert bad.status_code == 422 and "text/html" in bad.content_type
    stranger = app.test_client().get(link.group(1))
    assert stranger.status_code in (302, 303)
    assert "/inspect/login" in stranger.headers["Location"]
