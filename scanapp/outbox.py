"""The relay half of a transactional outbox, shared by the EPCIS pusher and the portal pusher.

An outbox table has the columns ``id``, ``attempts``, ``next_attempt_at``, ``claimed_until``,
``claim_token``, ``sent_at`` and ``last_error`` (scanapp/epcis/models.py, EpcisOutbox;
scanapp/trace/models.py, PortalOutbox). Its rows are written in the transaction that made
the news; a relay then

1. claims due rows with a lease (``claim``): two relays (the worker process and a command
   run by hand, or two worker processes during a deploy) never send the same row at once,
   and a relay that dies mid-send lets another take its rows once the lease expires;
2. sends them, outside any open transaction;
3. settles them (``settle``): sent after a 2xx, otherwise the error and a retry time, both
   only while the claim is still its own.

Delivery is at least once, which with the lease means once in practice. The webhook relay
(scanapp/fraud/webhooks.py) claims one row at a time with its own table layout and does
not use this module.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from .db import utcnow


def due(model, now: dt.datetime):
    """Unsent, not waiting for a retry, not leased by a live relay."""
    return and_(model.sent_at.is_(None), model.next_attempt_at <= now,
                or_(model.claimed_until.is_(None), model.claimed_until < now))


def claim(session: Session, model, limit: int, now: dt.datetime, lease: dt.timedelta
          ) -> tuple[str, list[int]]:
    """Lease up to ``limit`` due rows, oldest first, and commit; return the claim token and
    the ids claimed."""
    token = secrets.token_hex(16)
    condition = due(model, now)
    # Walks the partial index of unsent rows in id order. On PostgreSQL, rows another relay
    # is claiming right now are skipped rather than waited for; the CTE is MATERIALIZED so
    # the locking subquery runs once (re-run per row, SKIP LOCKED could exceed the LIMIT).
    picked = (select(model.id).where(condition).order_by(model.id).limit(limit)
              .with_for_update(skip_locked=True)
              .cte("picked").prefix_with("MATERIALIZED", dialect="postgresql"))
    # The conditions are repeated on the UPDATE itself: PostgreSQL re-checks them on rows a
    # concurrent relay just claimed, so each row goes to exactly one of them.
    claimed = session.scalars(
        update(model).where(model.id.in_(select(picked.c.id)), condition)
        .values(claim_token=token, claimed_until=now + lease)
        .returning(model.id)
        .execution_options(synchronize_session=False)).all()
    session.commit()
    return token, sorted(claimed)


def settle(session: Session, model, token: str, rows: Sequence[tuple[int, int]],
           error: str | None, retry_at: Callable[[int], dt.datetime]) -> None:
    """Mark the claimed ``rows`` (id, attempts so far) sent, or failed with ``error`` and a
    retry at ``retry_at(attempts)``; only rows this claim still holds. The caller commits."""
    ids = [row_id for row_id, _attempts in rows]
    mine = and_(model.id.in_(ids), model.claim_token == token)
    if error is None:
        session.execute(update(model).where(mine).values(
            attempts=model.attempts + 1, sent_at=utcnow(), last_error=None,
            claim_token=None, claimed_until=None))
        return
    for row_id, attempts in rows:
        # Only while the claim is still ours (a lease can expire in a long outage).
        session.execute(update(model).where(model.id == row_id, mine).values(
            attempts=attempts + 1, last_error=error[:500], next_attempt_at=retry_at(attempts + 1),
            claim_token=None, claimed_until=None))
