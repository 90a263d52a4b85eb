"""Flags written in batches (the production flag writer) leave exactly the rows that writing
them one scan at a time leaves: flags, case trails, EPCIS events and webhook outbox rows.

Each scenario runs twice on the same database, once one by one (``on_scan_recorded`` per
scan, the in-request path) and once as one batch (``on_scans_recorded``, what the background
writer calls), and compares what an inspector, the EPCIS portal and a brand's webhook would
see. Generated ids, event ids and timestamps differ between runs and are left out; flag ids
are replaced by their serial.
"""

from __future__ import annotations

import functools
import logging

import pytest
import sqlalchemy as sa

from scanapp.db import get_engine, session_scope, utcnow
from scanapp.epcis.models import EpcisEvent, EpcisEventIdentifier, EpcisOutbox
from scanapp.fraud.flags import ESCALATION_STEP, on_scan_recorded, on_scans_recorded
from scanapp.fraud.models import CaseEvent, CaseStatus, Flag, WebhookDelivery
from scanapp.regions import PROVINCES
from scanapp.risk.engine import Assessment
from scanapp.risk.facts import CodeHistory, RangeFacts, ScanFacts, ScanPlace
from scanapp.scan.flag_writer import FlagWriter
from scanapp.serials.models import SerialRange
from scanapp.services import services

BASE = "https://scan.example.vn"


@pytest.fixture
def codes(app, brand, product):
    """Serials of a real range (lot "LOT7") of the brand's product, whose brand has a
    webhook, so that every flag also writes an EPCIS event and an outbox row."""
    # No worker process runs in this test: outbox rows stay as written.
    assert brand.put("/api/v1/webhook", json={"url": "http://127.0.0.1:5399/hook"}) \
        .status_code == 200
    now = utcnow()
    with app.app_context(), session_scope(app) as session:
        rng = SerialRange(product_id=product["id"], gtin=product["gtin"], lot="LOT7",
                          start_seq=7_000_000, quantity=100, key_id=0,
                          brand_org_id=brand.org_id, requested_by_org_id=brand.org_id,
                          status="activated", created_at=now, updated_at=now)
        session.add(rng)
        session.commit()
        codec = services(app).codec
        serials = [codec.encode(7_000_000 + i, product["gtin"], "LOT7") for i in range(8)]
    return Codes(app, product, rng.id, serials)


class Codes:
    def __init__(self, app, product, range_id, serials):
        self.app, self.product, self.range_id, self.serials = app, product, range_id, serials
        self.gtin = product["gtin"]

    def scan(self, n: int, risk: int, reasons=("many_devices",), province="79",
             scan_event_id=None, range_known=True) -> tuple:
        """The arguments of ``on_scan_recorded`` for a flagged scan of code ``n``."""
        p = PROVINCES[province]
        facts = ScanFacts(serial=self.serials[n], gtin=self.gtin, standing="genuine",
                          place=ScanPlace(at=utcnow(), lat=p.lat, lon=p.lon,
                                          province=province))
        rng = RangeFacts(range_id=self.range_id if range_known else None, status="activated")
        return (scan_event_id or 1000 + n, facts, CodeHistory(scan_count=30, device_count=9),
                rng, Assessment(risk=risk, reasons=tuple(reasons), suspicious=risk >= 60,
                                flag=risk >= 50))

    def flagged_elsewhere(self, n: int, status=CaseStatus.OPEN.value, risk=60,
                          reasons=("many_devices",), first_scan_event_id=1) -> None:
        """A flag raised earlier (or by another process), with its first trail line."""
        now = utcnow()
        with self.app.app_context(), session_scope(self.app) as session:
            flag = Flag(serial=self.serials[n], gtin=self.gtin,
                        product_id=self.product["id"],
                        brand_org_id=self.product["brand_org_id"], risk=risk,
                        reasons=list(reasons), province="01", status=status, escalations=0,
                        first_scan_event_id=first_scan_event_id,
                        last_scan_event_id=first_scan_event_id, raised_at=now,
                        updated_at=now)
            session.add(flag)
            session.flush()
            session.add(CaseEvent(flag_id=flag.id, at=now, action="raised", risk=risk,
                                  to_status=CaseStatus.OPEN.value))
            session.commit()


def seen(app) -> dict:
    """Everything a user of the flags, the EPCIS events or a webhook sees, in write order."""
    with get_engine(app).connect() as conn:
        flags = {row.id: row for row in conn.execute(sa.select(Flag.__table__))}
        serial = {flag_id: row.serial for flag_id, row in flags.items()}
        trail = [(serial[e.flag_id], e.action, e.from_status, e.to_status, e.risk, e.note)
                 for e in conn.execute(sa.select(CaseEvent.__table__)
                                       .order_by(CaseEvent.id))]
        epcis = []
        for e in conn.execute(sa.select(EpcisEvent.__table__).where(EpcisEvent.kind == "flagged")
                              .order_by(EpcisEvent.id)):
            body = {k: v for k, v in e.body.items()
                    if k not in ("eventID", "eventTime", "recordTime", "scanapp:flagId")}
            epcis.append((e.kind, e.gtin, e.brand_org_id, serial[e.body["scanapp:flagId"]],
                          body))
        pending_epcis = conn.execute(sa.select(sa.func.count()).select_from(EpcisOutbox)) \
            .scalar()
        hooks = []
        for w in conn.execute(sa.select(WebhookDelivery.__table__)
                              .order_by(WebhookDelivery.id)):
            data = dict(w.payload["data"])
            data["flag_id"] = serial[data["flag_id"]]
            hooks.append((w.event_type, w.org_id, w.payload["type"], data))
    return {
        "flags": sorted((r.serial, r.gtin, r.product_id, r.brand_org_id, r.range_id, r.risk,
                         tuple(r.reasons), r.province, r.status, r.escalations,
                         r.first_scan_event_id, r.last_scan_event_id)
                        for r in flags.values()),
        "trail": trail, "epcis": epcis, "epcis_outbox": pending_epcis, "webhooks": hooks}


def forget_flags(app) -> None:
    """Remove this test's flag rows, so that the same scans can be recorded again."""
    with get_engine(app).begin() as conn:
        # The identifier index has no foreign key to its events (migration epcis_0004):
        # removed by hand, or SQLite's reused event ids would meet the old index rows.
        for model in (WebhookDelivery, EpcisOutbox, EpcisEventIdentifier, EpcisEvent,
                      CaseEvent, Flag):
            conn.execute(sa.delete(model.__table__))


def both_ways(app, setup, calls) -> tuple[dict, dict]:
    """What recording ``calls`` one by one leaves, and what one batch of them leaves."""
    setup()
    for call in calls:
        on_scan_recorded(app, *call)
    one_by_one = seen(app)
    forget_flags(app)
    setup()
    on_scans_recorded(app, calls)
    return one_by_one, seen(app)


def test_a_batch_leaves_the_rows_of_one_by_one_recording(app, codes, brand):
    calls = [
        codes.scan(0, 60),
        codes.scan(1, 70, province="01"),
        # The same code again, later in the batch: not news (risk up by less than a step).
        codes.scan(0, 60 + ESCALATION_STEP - 1),
        codes.scan(0, 85, ("impossible_travel", "many_devices"), province="01"),
        codes.scan(2, 65),
        # A new kind of signal escalates even at a lower risk.
        codes.scan(1, 55, ("scan_burst",)),
        # The code's range is not known: its lot is found from its signature.
        codes.scan(3, 75, range_known=False),
        codes.scan(2, 95, ("impossible_travel",)),
        codes.scan(0, 99),
    ]
    one_by_one, batched = both_ways(app, lambda: None, calls)
    assert batched == one_by_one
    # And what that is: four flags; codes 0, 1 and 2 raised, then escalated (0 twice).
    flags = {f[0]: f for f in batched["flags"]}
    assert len(flags) == 4
    assert flags[codes.serials[0]][5:10] == (99, ("many_devices", "impossible_travel"), "79",
                                            "open", 2)
    assert flags[codes.serials[2]][5] == 95 and flags[codes.serials[2]][9] == 1
    assert [t[1] for t in batched["trail"]] == ["raised", "raised", "escalated", "raised",
                                                "escalated", "raised", "escalated",
                                                "escalated"]
    assert len(batched["epcis"]) == len(batched["webhooks"]) == 8
    assert batched["epcis_outbox"] == 8
    stamp = f"{BASE}/01/{codes.gtin}/10/LOT7/21/"
    assert {e[4]["epcList"][0] for e in batched["epcis"]} == {
        stamp + codes.serials[n] for n in range(4)}
    assert [h[0] for h in batched["webhooks"]].count("flag.escalated") == 4
    assert all(h[1] == brand.org_id for h in batched["webhooks"])


def test_codes_flagged_before_are_escalated_as_one_by_one(app, codes):
    def setup():
        codes.flagged_elsewhere(0)
        codes.flagged_elsewhere(1, status=CaseStatus.FALSE_ALARM.value)
        codes.flagged_elsewhere(2, risk=90)

    calls = [
        codes.scan(0, 75),                              # escalates (+15)
        codes.scan(1, 62, ("many_devices", "pin_reused")),  # new signal: reopens the case
        codes.scan(2, 80),                              # not news: risk never goes down
        codes.scan(4, 70),                              # a new flag alongside
        codes.scan(0, 80),                              # not news against the escalated 75
    ]
    one_by_one, batched = both_ways(app, setup, calls)
    assert batched == one_by_one
    flags = {f[0]: f for f in batched["flags"]}
    assert flags[codes.serials[0]][5] == 75 and flags[codes.serials[0]][9] == 1
    assert flags[codes.serials[1]][8] == "open"
    assert flags[codes.serials[2]][5] == 90 and flags[codes.serials[2]][9] == 0
    reopened = [t for t in batched["trail"] if t[0] == codes.serials[1]][-1]
    assert reopened[1:4] == ("escalated", "false_alarm", "open")
    assert len(batched["webhooks"]) == 3


def test_a_code_raised_by_another_process_meanwhile_costs_no_other_flag(app, codes, caplog):
    """Another process commits a flag for one of the batch's codes after the batch looked
    for existing flags and before it inserts its own: that code's scan escalates the other
    process's flag, and every other code of the batch is flagged as usual."""
    engine = get_engine(app)
    raced = {"done": False}

    def other_process_raises(conn, cursor, statement, parameters, context, executemany):
        if not raced["done"] and statement.lstrip().upper().startswith("INSERT INTO FRAUD_FLAGS"):
            raced["done"] = True
            codes.flagged_elsewhere(1, risk=55, first_scan_event_id=999)

    sa.event.listen(engine, "before_cursor_execute", other_process_raises)
    try:
        with caplog.at_level(logging.ERROR):
            on_scans_recorded(app, [codes.scan(0, 70),
                                    codes.scan(1, 80, ("impossible_travel",)),
                                    codes.scan(2, 60),
                                    codes.scan(1, 85, ("impossible_travel",))])
    finally:
        sa.event.remove(engine, "before_cursor_execute", other_process_raises)
    assert raced["done"]
    assert not caplog.records  # handled in the batch: no failure, no one-by-one retry
    rows = seen(app)
    flags = {f[0]: f for f in rows["flags"]}
    assert set(flags) == {codes.serials[0], codes.serials[1], codes.serials[2]}
    # The other process's flag, escalated once by our first scan of it (+25 and a new
    # signal); the second (85) is not news against 80.
    other = flags[codes.serials[1]]
    assert other[10] == 999 and other[5] == 80 and other[9] == 1
    assert other[6] == ("impossible_travel", "many_devices")
    assert [t[1] for t in rows["trail"] if t[0] == codes.serials[1]] == ["raised", "escalated"]
    assert sorted((t[0], t[1]) for t in rows["trail"] if t[0] != codes.serials[1]) == sorted(
        [(codes.serials[0], "raised"), (codes.serials[2], "raised")])
    assert len(rows["epcis"]) == len(rows["webhooks"]) == 3


def test_a_failing_batch_is_written_one_by_one(app, codes, caplog):
    bad = codes.scan(1, 70)
    bad = (*bad[:4], Assessment(risk=70, reasons=(None,), suspicious=True, flag=True))
    with caplog.at_level(logging.ERROR, logger="scanapp.risk.engine"):
        on_scans_recorded(app, [codes.scan(0, 70), bad, codes.scan(2, 60)])
    rows = seen(app)
    assert {f[0] for f in rows["flags"]} == {codes.serials[0], codes.serials[2]}
    assert len(rows["epcis"]) == len(rows["webhooks"]) == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("batch of 3 flags" in m for m in messages)
    assert any(f"serial {codes.serials[1]}" in m for m in messages)


def test_the_background_writer_leaves_the_rows_of_one_by_one_recording(app, codes):
    calls = [codes.scan(n % 5, 55 + 3 * n, province=("01", "79")[n % 2]) for n in range(20)]
    for call in calls:
        on_scan_recorded(app, *call)
    one_by_one = seen(app)
    forget_flags(app)
    writer = FlagWriter(functools.partial(on_scans_recorded, app))
    try:
        for call in calls:
            writer.submit(*call)
    finally:
        writer.close()  # drains the queue
    assert seen(app) == one_by_one
