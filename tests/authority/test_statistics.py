"""The statistics and the report for a period, checked against the data that made them;
the PDF is rendered (pdftoppm) and its text read back (pypdf); the XLSX is read back."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess

import pytest
from sqlalchemy import func, select, update

from scanapp.db import session_scope, utcnow
from scanapp.fraud.models import Flag
from scanapp.scan.models import ScanEvent
from scanapp.trace.models import PortalOutbox
from tests.authority.conftest import ok
from tests.conftest import gtin14

VN = dt.timezone(dt.timedelta(hours=7))


@pytest.fixture
def province_data(app, client, brand, hung_yen, hy_chain, make_actor, other_brand):
    # A second firm of Hưng Yên uses barcodes but has no traceability system.
    party = other_brand.get("/api/v1/trace/parties").get_json()[0]
    ok(other_brand.patch(f"/api/v1/trace/parties/{party['id']}", json={"province": "33"}), 200)
    ok(other_brand.post("/api/v1/products", json={"gtin": gtin14("0893000000301"),
                                                  "name": "Tương Bần", "category": "gia vị"}))
    # Scans: two codes, one of them twice (a quick repeat may be folded into one event).
    for uri in (hy_chain["uris"][0], hy_chain["uris"][0], hy_chain["uris"][1]):
        assert client.post("/api/v1/scans", json={"code": uri}).status_code == 200
    with app.app_context(), session_scope(app) as session:
        # The lot's document reached the national portal.
        session.execute(update(PortalOutbox).values(sent_at=utcnow()))
        # Two counterfeit suspicions scanned in the province, one confirmed; one elsewhere.
        for serial, status, province in (("S1", "confirmed_counterfeit", "33"),
                                         ("S2", "open", "33"), ("S3", "open", "01")):
            session.add(Flag(serial=serial, gtin=hy_chain["product"]["gtin"], risk=90,
                             reasons=["copied"], province=province, status=status,
                             raised_at=utcnow(), updated_at=utcnow()))
        session.commit()
    # One data case from a finding, then closed by an inspector.
    runner = app.test_cli_runner()
    assert runner.invoke(args=["authority", "check"]).exit_code == 0
    finding = ok(hung_yen.get("/api/v1/authority/findings"), 200)[0]
    case = ok(hung_yen.post(f"/api/v1/authority/findings/{finding['id']}/case", json={}), 200)
    inspector = make_actor("inspector", "Thanh tra Sở")
    for status in ("investigating", "false_alarm"):
        ok(inspector.post(f"/api/v1/flags/{case['case_id']}/case", json={"status": status}), 200)
    item = ok(hung_yen.get("/api/v1/authority/reviews?state=pending"), 200)[0]
    ok(hung_yen.post(f"/api/v1/authority/reviews/{item['id']}/approve", json={}), 200)
    with app.app_context(), session_scope(app) as session:
        scans = session.scalar(select(func.count()).select_from(ScanEvent).where(
            ScanEvent.gtin == hy_chain["product"]["gtin"]))
    assert scans in (2, 3)
    return {**hy_chain, "scans": scans}


def _today() -> str:
    return dt.datetime.now(VN).date().isoformat()


def test_figures_match_the_data(hung_yen, ha_noi, province_data):
    figures = ok(hung_yen.get(f"/api/v1/authority/statistics?from=2026-01-01&to={_today()}"),
                 200)
    assert figures["scope"] == "Hưng Yên"
    [hy] = figures["provinces"]
    assert hy["firms"] == {"using_barcodes": 2, "with_traceability": 1, "pct": 50.0,
                           "target_pct": 30, "met": True}
    assert hy["portal"] == {"traced_products": 1, "connected": 1, "pct": 100.0,
                            "target_pct": 100, "met": True}
    assert hy["products"] == 2 and hy["lots_traced"] == 1
    assert hy["stamps"] == {"issued": 3, "scanned_codes": 2, "scans": province_data["scans"]}
    assert hy["counterfeit"] == {"flags": 2, "confirmed": 1}
    assert hy["cases"] == {"opened": 3, "closed": 1}
    assert hy["findings"] == {"total": 1, "by_rule": {"label_not_trace": 1}}
    assert hy["reviews"] == {"approved": 1, "rejected": 0}
    assert {s["sector"]: (s["firms"], s["products"], s["traced_products"])
            for s in hy["sectors"]} == {"trái cây": (1, 1, 1), "gia vị": (1, 1, 0)}
    # A period before any of it counts nothing that happened in it.
    empty = ok(hung_yen.get("/api/v1/authority/statistics?from=2020-01-01&to=2020-12-31"),
               200)["provinces"][0]
    assert empty["stamps"] == {"issued": 0, "scanned_codes": 0, "scans": 0}
    assert empty["cases"] == {"opened": 0, "closed": 0} and empty["lots_traced"] == 0
    # Targets are the province's: raising one turns "met" off.
    ok(hung_yen.put("/api/v1/authority/policy", json={
        "targets": {"firms_with_trace_pct": 60}, "plan": "KH 15/KH-UBND"}), 200)
    hy = ok(hung_yen.get("/api/v1/authority/statistics"), 200)["provinces"][0]
    assert hy["firms"]["target_pct"] == 60 and hy["firms"]["met"] is False
    # Another province's authority sees its own (empty) figures only.
    assert ha_noi.get("/api/v1/authority/statistics?province=33").status_code == 403
    assert ha_noi.get("/api/v1/authority/statistics?from=2026-02-01&to=2026-01-01"
                      ).status_code == 422


def test_report_pdf_and_xlsx(hung_yen, province_data, artifacts_dir, tmp_path):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    query = f"?from=2026-01-01&to={_today()}"
    response = hung_yen.get("/api/v1/authority/report.pdf" + query)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    body = response.get_data()
    (artifacts_dir / "authority-report.pdf").write_bytes(body)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    for expected in ("BÁO CÁO TÌNH HÌNH TRIỂN KHAI TRUY XUẤT NGUỒN GỐC", "Hưng Yên",
                     "Tỷ lệ doanh nghiệp có truy xuất", "50 %", ">= 30 %",
                     "Tỷ lệ kết nối Cổng quốc gia", "100 %", "Có tem, không có truy xuất: 1"):
        assert expected in text, expected
    if shutil.which("pdftoppm"):
        pdf_path = tmp_path / "report.pdf"
        pdf_path.write_bytes(body)
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf_path),
                        str(artifacts_dir / "authority-report")], check=True, timeout=60)
        assert list(artifacts_dir.glob("authority-report*.png"))
    sheet = hung_yen.get("/api/v1/authority/report.xlsx" + query)
    assert sheet.status_code == 200
    book = load_workbook(io.BytesIO(sheet.get_data()))
    rows = {(r[0], r[1]): (r[2], r[3]) for r in book["Tổng hợp"].iter_rows(values_only=True)
            if r and len(r) >= 4 and r[0] == "Hưng Yên"}
    assert rows[("Hưng Yên", "Tem phát hành trong kỳ")] == (3, None)
    assert rows[("Hưng Yên", "Tỷ lệ doanh nghiệp có truy xuất")] == ("50 %", ">= 30 %")
    sectors = list(book["Theo lĩnh vực"].iter_rows(values_only=True))[1:]
    assert ("Hưng Yên", "trái cây", 1, 1, 1, 1, 1) in sectors
