"""Webhook promises that mutation testing found untested (docs/RELIABILITY.md, "Mutation
testing", scanapp/fraud/webhooks.py): the retry delay doubles per failure up to its cap
(README: SCANAPP_WEBHOOK_BACKOFF_BASE_S, "doubling per failure"), and the deliveries list
is the latest 50, newest first (docs/FRAUD.md)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from scanapp.db import session_scope, utcnow
from scanapp.fraud import webhooks
from scanapp.fraud.models import WebhookDelivery
from tests.fraud.test_webhooks import SERIAL, receiver, set_webhook  # noqa: F401 - fixture

__all__ = ["receiver"]


def test_the_retry_delay_doubles_per_failure_up_to_its_cap(app, brand, product, scans,
                                                           receiver):  # noqa: F811
    app.config.update(WEBHOOK_MAX_ATTEMPTS=10, WEBHOOK_BACKOFF_BASE_S=60,
                      WEBHOOK_BACKOFF_MAX_S=200)
    hook = receiver(fail_first=100)
    set_webhook(brand, hook.url)
    scans.flagged(SERIAL, product["gtin"])
    waits = []
    with session_scope(app) as session:
        row = session.scalar(select(WebhookDelivery))
        for _ in range(4):
            row.next_attempt_at = utcnow() - dt.timedelta(seconds=1)  # due now
            session.commit()
            before = utcnow()
            webhooks.deliver_due(app)
            session.refresh(row)
            waits.append((row.next_attempt_at - before).total_seconds())
    assert len(hook.requests) == 4
    # 60 s, then 120 s, then 240 s capped at 200 s, and the cap holds.
    for got, expected in zip(waits, [60, 120, 200, 200], strict=True):
        assert expected - 5 < got <= expected + 5, waits


def test_the_deliveries_list_is_the_latest_fifty_newest_first(app, brand):
    with session_scope(app) as session:
        now = utcnow()
        session.add_all([
            WebhookDelivery(event_id=f"evt-{i:03d}", event_type="flag.raised",
                            org_id=brand.org_id, payload={"n": i},
                            created_at=now + dt.timedelta(seconds=i),
                            next_attempt_at=now + dt.timedelta(days=1))
            for i in range(55)])
        session.commit()
    response = brand.get("/api/v1/webhook/deliveries")
    assert response.status_code == 200
    ids = [d["event_id"] for d in response.get_json()]
    assert ids == [f"evt-{i:03d}" for i in range(54, 4, -1)]


def _outbox(app, org_id, count, *, first=0, **fields):
    """``count`` due rows, the older the higher their id (so that "oldest due first" and
    "lowest id first" disagree)."""
    now = utcnow()
    with session_scope(app) as session:
        rows = [WebhookDelivery(event_id=f"evt-{first + i:03d}", event_type="flag.raised",
                                org_id=org_id, payload={"n": first + i},
                                next_attempt_at=now - dt.timedelta(minutes=10 + i), **fields)
                for i in range(count)]
        session.add_all(rows)
        session.commit()


def _sent(hook) -> list[str]:
    return [r["headers"]["X-Scanapp-Event-Id"] for r in hook.requests]


def test_a_pass_sends_a_batch_oldest_due_first_and_the_relay_comes_back_for_more(
        app, brand, receiver):  # noqa: F811
    hook = receiver()
    set_webhook(brand, hook.url)
    _outbox(app, brand.org_id, webhooks.BATCH + 5)
    relay = webhooks.WebhookRelay(app)
    # A full batch delivered: there may be more due, so the relay runs again at once.
    assert relay.run_once() is True
    assert sorted(_sent(hook)) == [f"evt-{i:03d}" for i in range(5, webhooks.BATCH + 5)]
    assert relay.run_once() is False  # the 5 left, the most recently due
    assert len(hook.requests) == webhooks.BATCH + 5


@pytest.mark.parametrize("blocking", ["delivered", "claimed_by_another_worker"])
def test_a_full_batch_of_rows_not_to_send_never_starves_a_due_one(app, brand, receiver,  # noqa: F811
                                                                  blocking):
    hook = receiver()
    set_webhook(brand, hook.url)
    now = utcnow()
    fields = ({"delivered_at": now} if blocking == "delivered"
              else {"locked_until": now + dt.timedelta(seconds=webhooks.CLAIM_S)})
    _outbox(app, brand.org_id, webhooks.BATCH, first=1, **fields)  # older than the due one
    with session_scope(app) as session:
        session.add(WebhookDelivery(event_id="evt-due", event_type="flag.raised",
                                    org_id=brand.org_id, payload={},
                                    next_attempt_at=now - dt.timedelta(minutes=1)))
        session.commit()
    assert webhooks.deliver_due(app) == 1
    assert _sent(hook) == ["evt-due"]
