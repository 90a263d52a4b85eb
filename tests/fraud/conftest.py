"""Helpers for fraud tests: raise flags through the engine's post-record hook (the same
call the scan path makes) and write scan events as the scan path stores them."""

from __future__ import annotations

import datetime as dt

import pytest

from scanapp import events
from scanapp.db import session_scope, utcnow
from scanapp.fraud.flags import on_scan_recorded
from scanapp.regions import PROVINCES, cell_of
from scanapp.risk.engine import Assessment
from scanapp.risk.facts import CodeHistory, RangeFacts, ScanFacts, ScanPlace
from scanapp.scan.models import ScanEvent
from scanapp.services import services

# Real stamps issued through the API, and the scan service's clock (tests/scan/conftest.py).
from tests.scan.conftest import clock, issue_stamps  # noqa: F401


@pytest.fixture
def published(app):
    """Every domain event published during the test, in order."""
    seen: list = []

    def listen(_session, event):
        seen.append(event)

    kinds = (events.FlagRaised, events.CaseDecided, events.FieldInspectionRecorded)
    for kind in kinds:
        services(app).events.subscribe(kind, listen)
    yield seen
    for kind in kinds:
        services(app).events.unsubscribe(kind, listen)


class Scans:
    def __init__(self, app):
        self.app = app

    def event(self, serial, gtin, *, verdict="authentic", province=None, at=None, risk=0,
              reasons=(), point=None, scan_no=None, device=None) -> int:
        lat, lon = point if point else (None, None)
        if point is None and province is not None:
            lat, lon = PROVINCES[province].lat, PROVINCES[province].lon
        with session_scope(self.app) as session:
            row = ScanEvent(scanned_at=at or utcnow(), serial=serial, gtin=gtin,
                            verdict=verdict, reasons=list(reasons), risk=risk,
                            scan_no=scan_no, province=province, lat=lat, lon=lon,
                            cell=cell_of(lat, lon), device_hash=device, source="consumer",
                            degraded=False)
            session.add(row)
            session.commit()
            return row.id

    def flagged(self, serial, gtin, *, risk=70, reasons=("many_devices",), province="79",
                at=None, market=("01", "79")) -> int:
        """A scan event plus the engine hook for it, as the scan path does it."""
        at = at or utcnow()
        event_id = self.event(serial, gtin, verdict="suspicious", province=province, at=at,
                              risk=risk, reasons=reasons)
        p = PROVINCES[province]
        scan = ScanFacts(serial=serial, gtin=gtin, standing="genuine",
                         place=ScanPlace(at=at, lat=p.lat, lon=p.lon, province=province))
        on_scan_recorded(self.app, event_id, scan, CodeHistory(scan_count=30, device_count=9),
                         RangeFacts(range_id=None, status="activated", market_regions=market),
                         Assessment(risk=risk, reasons=tuple(reasons), suspicious=risk >= 60,
                                    flag=True))
        return event_id


@pytest.fixture
def scans(app) -> Scans:
    return Scans(app)


def ago(**kwargs) -> dt.datetime:
    return utcnow() - dt.timedelta(**kwargs)


# The inspectors' workspace's seeded case (tests/fraud/workspace_case.py).
from tests.fraud.workspace_case import case  # noqa: E402,F401
