"""The composition root: everything is built in create_app, once, and looked up after."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from scanapp.metrics import Metrics
from scanapp.scan.flag_writer import FlagWriter
from scanapp.scan.sink import DirectSink
from scanapp.serials.codec import SerialCodec
from scanapp.serials.lookup import RangeIndex
from scanapp.services import services

PACKAGE = Path(__file__).resolve().parent.parent / "scanapp"
GTIN = "08930000000019"


def test_no_lazy_per_app_accessor_is_left():
    lazy = re.compile(r"\b(get_codec|get_index|get_pins|ensure_worker|ensure_pusher)\b"
                      r"|def components\((app\b|\))"
                      r"|extensions\.setdefault\(\"scanapp\.(?!shutdown)")
    found = [f"{path.relative_to(PACKAGE)}:{n}" for path in PACKAGE.rglob("*.py")
             for n, line in enumerate(path.read_text().splitlines(), 1) if lazy.search(line)]
    assert not found, found


@pytest.mark.committed  # two request threads on their own connections
def test_two_concurrent_first_requests_build_one_set_of_components(app_factory, monkeypatch):
    built: list[type] = []
    for cls in (DirectSink, FlagWriter, Metrics, SerialCodec, RangeIndex):
        original = cls.__init__

        def counting(self, *args, _original=original, _cls=cls, **kwargs):
            built.append(_cls)
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting)

    fresh = app_factory(SCAN_FLAGS_IN_BACKGROUND=True)
    at_start = list(built)
    assert at_start.count(Metrics) == 1 and at_start.count(SerialCodec) == 1
    assert at_start.count(FlagWriter) == 1 and at_start.count(RangeIndex) == 1
    before = services(fresh)

    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def first_request(n: int) -> None:
        client = fresh.test_client()
        barrier.wait()
        forged = f"https://scan.example.vn/01/{GTIN}/21/0AAAAAAAAAAAAAAAAA{n:02d}"
        response = client.post("/api/v1/scans", json={"code": forged, "device_id": f"d{n}"},
                               environ_base={"REMOTE_ADDR": f"10.0.0.{n}"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=first_request, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert statuses == [200, 200]
    assert built == at_start  # the requests built nothing
    assert services(fresh) is before
    assert services(fresh).scan.metrics.value("scanapp_scans_total", verdict="counterfeit") == 2


def test_event_listeners_belong_to_their_app(app, app_factory):
    from scanapp import events

    other = app_factory()
    seen: list = []
    services(other).events.subscribe(events.RangeIssued, lambda _s, e: seen.append(e))
    assert services(app).events is not services(other).events
    with app.app_context():
        from scanapp.db import session_scope

        with session_scope(app) as session:
            # A listener of another app never hears this app's events.
            services(app).events.publish(session, object())
    assert seen == []
