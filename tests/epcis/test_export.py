"""`flask epcis export` and the daily consumer-scan aggregates."""

from __future__ import annotations

import datetime as dt
import json

from scanapp.db import session_scope
from scanapp.epcis.recorder import aggregate_scans
from scanapp.scan.models import ScanEvent
from tests.epcis.conftest import events_of
from tests.epcis.schema import assert_valid

VN = dt.timezone(dt.timedelta(hours=7))


def test_export_writes_one_valid_document_for_the_days_asked(app, runner, publisher,
                                                             brand_product, tmp_path):
    # 23:30 on the 20th in Vietnam is still the 20th there, though the 21st has begun nowhere.
    inside = [dt.datetime(2026, 11, 20, 0, 0, tzinfo=VN), dt.datetime(2026, 11, 20, 23, 30,
                                                                       tzinfo=VN),
              dt.datetime(2026, 11, 21, 12, 0, tzinfo=VN)]
    outside = [dt.datetime(2026, 11, 19, 23, 59, tzinfo=VN),
               dt.datetime(2026, 11, 22, 0, 0, tzinfo=VN)]
    range_id = publisher.issue(brand_product, at=outside[0])
    for at in [*inside, outside[1]]:
        publisher.step(range_id, "void", serials=[f"0AAAAAAAAAAA{at:%d%H%M}00"], at=at)
    out = tmp_path / "events.jsonld"
    result = runner.invoke(args=["epcis", "export", "--since", "2026-11-20", "--until",
                                 "2026-11-21", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 3 events" in result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert_valid(document)
    times = [e["eventTime"] for e in document["epcisBody"]["eventList"]]
    assert times == ["2026-11-19T17:00:00.000Z", "2026-11-20T16:30:00.000Z",
                     "2026-11-21T05:00:00.000Z"]


def test_export_of_nothing_is_an_empty_valid_document(runner, tmp_path):
    out = tmp_path / "empty.jsonld"
    result = runner.invoke(args=["epcis", "export", "--since", "2026-01-01", "--until",
                                 "2026-01-31", "-o", str(out)])
    assert result.exit_code == 0 and "wrote 0 events" in result.output
    document = json.loads(out.read_text())
    assert document["epcisBody"]["eventList"] == []
    assert_valid(document)


def test_export_refuses_bad_dates(runner, tmp_path):
    out = str(tmp_path / "x.jsonld")
    bad = runner.invoke(args=["epcis", "export", "--since", "20/11/2026", "--until",
                              "2026-11-21", "-o", out])
    assert bad.exit_code == 2 and "2026-11-25" in bad.output
    backwards = runner.invoke(args=["epcis", "export", "--since", "2026-11-21", "--until",
                                    "2026-11-20", "-o", out])
    assert backwards.exit_code == 2 and "before --since" in backwards.output
    missing = runner.invoke(args=["epcis", "export", "--since", "2026-11-21", "-o", out])
    assert missing.exit_code == 2 and "--until" in missing.output


def _scan(session, at, serial, gtin, province="01", verdict="authentic", source="consumer",
          device="phone-alpha"):
    session.add(ScanEvent(scanned_at=at, serial=serial, gtin=gtin, verdict=verdict,
                          province=province, source=source, device_hash=device,
                          client_hash="client-" + device, lat=21.03, lon=105.85))


def test_consumer_scans_are_exported_as_daily_counts_without_device_data(app, brand,
                                                                         brand_product):
    gtin = brand_product["gtin"]
    day = dt.date(2026, 11, 20)
    noon = dt.datetime(2026, 11, 20, 12, 0, tzinfo=VN)
    with app.app_context(), session_scope(app) as session:
        for i, device in enumerate(["phone-alpha", "phone-beta", "phone-gamma"]):
            _scan(session, noon, "0AAAAAAAAAAA00000001", gtin, device=device)
            _scan(session, noon + dt.timedelta(minutes=i), f"0AAAAAAAAAAA0000001{i}", gtin,
                  province="79")
        _scan(session, noon, "0FORGEDFORGEDFORGED1", gtin, verdict="counterfeit")
        _scan(session, noon, "0AAAAAAAAAAA00000001", gtin, source="inspector")
        _scan(session, noon + dt.timedelta(days=1), "0AAAAAAAAAAA00000001", gtin)  # next day
        session.commit()
        # The day is not over yet: nothing to export.
        assert aggregate_scans(session, now=dt.datetime(2026, 11, 20, 23, 0, tzinfo=VN)) == []
        after = dt.datetime(2026, 11, 21, 1, 0, tzinfo=VN)
        assert aggregate_scans(session, now=after) == [day]
        assert aggregate_scans(session, now=after) == []  # once only
    found = events_of(brand, kind="scans_observed")
    assert [(e["scanapp:province"], e["scanapp:scanCount"], e["quantityList"][0]["quantity"])
            for e in found] == [("01", 3, 1), ("79", 3, 3)]
    assert all(e["quantityList"][0]["epcClass"] == f"https://scan.example.vn/01/{gtin}"
               for e in found)
    assert all(e["eventTime"] == "2026-11-19T17:00:00.000Z" for e in found)
    text = json.dumps(found)
    for private in ("phone-", "client-", "21.03", "105.85", "device", "0AAAAAAAAAAA"):
        assert private not in text
