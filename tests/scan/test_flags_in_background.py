"""Production writes fraud flags after the answer (scanapp/scan/flag_writer.py): the flag
still arrives once the phone has its answer."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from scanapp.db import get_engine
from scanapp.fraud.models import Flag
from scanapp.services import services

from .test_scan_api import DA_NANG, HANOI, SAIGON

# The flag writer is a thread that writes on its own connection while requests go on.
pytestmark = pytest.mark.committed


def _flags(app, serial: str) -> list:
    with get_engine(app).connect() as conn:
        return conn.execute(sa.select(Flag.risk).where(Flag.serial == serial)).all()


def test_flag_of_a_suspicious_scan_is_written_after_the_answer(app_factory, issue_stamps,
                                                               clock):
    stamp = issue_stamps(1)[0]
    app = app_factory(SCAN_FLAGS_IN_BACKGROUND=True)
    client = app.test_client()
    bodies = []
    for i, (lat, lon) in enumerate([HANOI, SAIGON, DA_NANG, HANOI, SAIGON, DA_NANG, HANOI]):
        clock.advance(120)
        response = client.post("/api/v1/scans", json={"code": stamp.uri, "lat": lat,
                                                      "lon": lon, "device_id": f"p{i}"})
        bodies.append(response.get_json())
    assert bodies[-1]["verdict"] == "suspicious"
    writer = services(app).scan.flag_writer
    assert writer is not None
    deadline = time.monotonic() + 10
    while not _flags(app, stamp.serial) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _flags(app, stamp.serial)
