"""Ranges: issuing, reading, and lifecycle transitions.

Decisions where the issue is silent:

- Who may do what. Issue: a printer (for products a brand authorised it to print), a
  brand (its own products, optionally naming an authorised printer) or an admin. Print and
  void: the range's printer, its brand, an admin. Activate and recall (market decisions):
  the brand or an admin. Inspectors read everything and change nothing.
- A printer asking for a product it is not authorised for gets 403 with that reason: GTINs
  are printed on every pack, so confirming that one is registered gives nothing away.
- ``market_regions`` defaults to the product's when the request leaves it out.
- Part of a range is named by ``serials`` (a list) or by ``from_serial``/``to_serial``
  (both ends included, in the order of the download files); at most
  ``MAX_PARTIAL_CODES`` codes per request, so each event and audit row stays small.
- The idempotency key is scoped to the calling organisation; the stored request hash is
  SHA-256 over the canonical JSON of the validated body.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..auth.models import Role
from ..auth.service import Principal
from ..db import utcnow
from ..errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unavailable,
)
from ..events import RangeIssued, RangeTransitioned, publish
from ..gs1 import normalize_gtin
from ..products.models import Product
from ..products.service import printer_may_print
from . import lifecycle
from .codec import MAX_SEQ, InvalidSerial, get_codec
from .lookup import get_index
from .models import RangeTransition, SerialCounter, SerialOverride, SerialRange

MAX_QUANTITY = 10_000_000
MAX_PARTIAL_CODES = 10_000
COUNTER_ID = 1

ISSUERS = (Role.PRINTER, Role.BRAND, Role.ADMIN)
ACTION_ROLES = {
    "print": (Role.PRINTER, Role.BRAND, Role.ADMIN),
    "void": (Role.PRINTER, Role.BRAND, Role.ADMIN),
    "activate": (Role.BRAND, Role.ADMIN),
    "recall": (Role.BRAND, Role.ADMIN),
}


# -- visibility -------------------------------------------------------------------------
def visible_ranges(principal: Principal) -> Select[tuple[SerialRange]]:
    query = select(SerialRange)
    if principal.role is Role.PRINTER:
        return query.where(or_(SerialRange.printer_org_id == principal.org_id,
                               SerialRange.requested_by_org_id == principal.org_id))
    if principal.role is Role.BRAND:
        return query.where(SerialRange.brand_org_id == principal.org_id)
    return query


def list_ranges(session: Session, principal: Principal, *, gtin: str | None = None,
                status: str | None = None, limit: int = 100, offset: int = 0
                ) -> list[SerialRange]:
    query = visible_ranges(principal)
    if gtin:
        query = query.where(SerialRange.gtin == normalize_gtin(gtin))
    if status:
        query = query.where(SerialRange.status == status)
    return list(session.scalars(query.order_by(SerialRange.id.desc())
                                .limit(limit).offset(offset)))


def get_range(session: Session, principal: Principal, range_id: int) -> SerialRange:
    found = session.scalar(visible_ranges(principal).where(SerialRange.id == range_id))
    if found is None:
        raise NotFound(f"no range with id {range_id}", code="unknown_range")
    return found


def range_to_work_on(session: Session, principal: Principal, range_id: int) -> SerialRange:
    """A range whose codes the caller may download or move along the lifecycle.

    A printer holds a range only while the brand authorises it: reading the range's
    metadata stays possible after a revocation (its own past work), but its codes, PINs,
    labels and lifecycle steps are the brand's to grant, checked on every request.
    """
    target = get_range(session, principal, range_id)
    if principal.role is Role.PRINTER:
        product = session.get(Product, target.product_id)
        if product is None or not printer_may_print(session, principal.org_id, product):
            raise PermissionDenied(
                f"the brand no longer authorises this printer for GTIN {target.gtin}: "
                "its codes and lifecycle steps are closed to it",
                code="printer_not_authorised")
    return target


# -- issuing ----------------------------------------------------------------------------
def request_hash(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def allocate_sequence(session: Session, quantity: int) -> int:
    """Take ``quantity`` numbers from the global counter in one atomic statement.

    ``UPDATE ... RETURNING`` holds the counter row's lock until the caller's transaction
    ends, so concurrent issuers queue on it and can never overlap; if the caller rolls
    back, the numbers go back too (no gaps from failed requests).
    """
    for _attempt in range(3):
        new_next = session.execute(
            update(SerialCounter).where(SerialCounter.id == COUNTER_ID)
            .values(next_seq=SerialCounter.next_seq + quantity)
            .returning(SerialCounter.next_seq)).scalar()
        if new_next is not None:
            start = new_next - quantity
            break
        try:
            with session.begin_nested():
                session.add(SerialCounter(id=COUNTER_ID, next_seq=quantity))
            start = 0
            break
        except IntegrityError:
            continue  # another request created the counter first: take the UPDATE path
    else:  # pragma: no cover - needs three lost races in a row
        raise Unavailable("the serial counter is busy; try again", code="counter_busy")
    if start + quantity > MAX_SEQ:
        raise Unavailable("the serial space is exhausted", code="serial_space_exhausted")
    return start


def _product_for(session: Session, principal: Principal, gtin: str) -> Product:
    gtin14 = normalize_gtin(gtin)
    product = session.scalar(select(Product).where(Product.gtin == gtin14))
    if principal.role is Role.BRAND and product is not None \
            and product.brand_org_id != principal.org_id:
        product = None  # another brand's product is reported as absent
    if product is None:
        raise NotFound(f"no product with GTIN {gtin14} that this key may use",
                       code="unknown_product")
    if principal.role is Role.PRINTER and not printer_may_print(session, principal.org_id,
                                                                 product):
        raise PermissionDenied(
            f"this printer is not authorised by the brand to print GTIN {gtin14}; "
            "ask the brand to authorise it (POST /api/v1/printer-authorisations)",
            code="printer_not_authorised")
    return product


def issue_range(session: Session, principal: Principal, data: dict,
                idempotency_key: str | None = None) -> tuple[SerialRange, bool]:
    """Issue a range (one row, whatever its size). Returns ``(range, created)``;
    ``created`` is False when an ``Idempotency-Key`` retry returns the earlier range."""
    if principal.role not in ISSUERS:
        raise PermissionDenied("only printers, brands and admins issue ranges")
    expiry_ok(data.get("expiry"))
    digest = request_hash(data)
    if idempotency_key is not None:
        earlier = _by_idempotency_key(session, principal, idempotency_key, digest)
        if earlier is not None:
            return earlier, False

    product = _product_for(session, principal, data["gtin"])
    printer_org_id = _printer_for(session, principal, product, data.get("printer_org_id"))
    quantity = data["quantity"]
    largest = int(current_app.config.get("RANGE_MAX_QUANTITY") or MAX_QUANTITY)
    if quantity > largest:
        raise InvalidInput(f"a range holds at most {largest} codes on this service; "
                           f"ask for {quantity} in several ranges", code="range_too_large")
    key_id = get_codec().active_key_id()
    now = utcnow()
    try:
        start = allocate_sequence(session, quantity)
        # Checked while allocate_sequence holds the counter's row lock: concurrent requests
        # of one organisation see each other's ranges, so the quota is exact.
        _within_daily_quota(session, principal, quantity, now)
        issued = SerialRange(
            product_id=product.id, gtin=product.gtin, lot=data.get("lot") or None,
            expiry=data.get("expiry"), start_seq=start, quantity=quantity, key_id=key_id,
            status="issued",
            market_regions=list(data["market_regions"]) if data.get("market_regions")
            is not None else list(product.market_regions or []),
            pin_enabled=bool(data.get("pin", False)), brand_org_id=product.brand_org_id,
            printer_org_id=printer_org_id, requested_by_org_id=principal.org_id,
            requested_by_key_id=principal.key_id, idempotency_key=idempotency_key,
            request_hash=digest, created_at=now, updated_at=now)
        session.add(issued)
        session.flush()
        session.add(RangeTransition(range_id=issued.id, action="issue", from_status=None,
                                    to_status="issued", actor_org_id=principal.org_id,
                                    actor_key_id=principal.key_id, at=now))
        publish(session, RangeIssued(range_id=issued.id, at=now,
                                     actor_org_id=principal.org_id))
        session.commit()
    except IntegrityError:
        session.rollback()
        if idempotency_key is not None:
            # A concurrent retry with the same key won the race: answer with its range.
            earlier = _by_idempotency_key(session, principal, idempotency_key, digest)
            if earlier is not None:
                return earlier, False
        raise
    return issued, True


ISSUE_WINDOW = dt.timedelta(days=1)


def _within_daily_quota(session: Session, principal: Principal, quantity: int,
                        now: dt.datetime) -> None:
    """An organisation issues at most ISSUE_CODES_PER_DAY codes in any 24 hours."""
    quota = int(current_app.config.get("ISSUE_CODES_PER_DAY") or 0)
    if not quota:
        return
    since = now - ISSUE_WINDOW
    issued, oldest = session.execute(
        select(func.coalesce(func.sum(SerialRange.quantity), 0), func.min(SerialRange.created_at))
        .where(SerialRange.requested_by_org_id == principal.org_id,
               SerialRange.created_at > since)).one()
    if issued + quantity > quota:
        session.rollback()  # gives the sequence numbers back
        wait = ((oldest + ISSUE_WINDOW - now).total_seconds() if oldest else 3600)
        raise RateLimited(f"this organisation has issued {issued} codes in the last 24 hours; "
                          f"{quantity} more would pass its quota of {quota}",
                          code="issue_quota_exceeded", retry_after_s=max(wait, 1))


def _by_idempotency_key(session: Session, principal: Principal, key: str,
                        digest: str) -> SerialRange | None:
    earlier = session.scalar(select(SerialRange).where(
        SerialRange.requested_by_org_id == principal.org_id,
        SerialRange.idempotency_key == key))
    if earlier is not None and earlier.request_hash != digest:
        raise Conflict("this Idempotency-Key was already used with a different request "
                       f"body (range {earlier.id}); use a new key for a new request",
                       code="idempotency_key_reused")
    return earlier


def _printer_for(session: Session, principal: Principal, product: Product,
                 requested: int | None) -> int | None:
    if principal.role is Role.PRINTER:
        if requested not in (None, principal.org_id):
            raise PermissionDenied("a printer issues ranges only for itself",
                                   code="wrong_printer")
        return principal.org_id
    if requested is None:
        return None
    if not printer_may_print(session, requested, product):
        raise InvalidInput(f"organisation {requested} is not authorised to print "
                           f"GTIN {product.gtin}", code="printer_not_authorised")
    return requested


# -- lifecycle --------------------------------------------------------------------------
def transition(session: Session, principal: Principal, range_id: int, action: str,
               data: dict) -> SerialRange:
    target = range_to_work_on(session, principal, range_id)
    if principal.role not in ACTION_ROLES[action]:
        allowed = ", ".join(r.value for r in ACTION_ROLES[action])
        raise PermissionDenied(f"a {principal.role.value} key cannot {action} a range; "
                               f"it needs: {allowed}")
    # Lock the row so two concurrent transitions of one range apply one after the other.
    session.execute(select(SerialRange.id).where(SerialRange.id == range_id)
                    .with_for_update())
    session.refresh(target)
    serials = data.get("serials")
    first, last = data.get("from_serial"), data.get("to_serial")
    reason = data.get("reason")
    now = utcnow()
    new_status = lifecycle.target_status(action)
    if serials is None and first is None and last is None:
        problem = lifecycle.refusal(action, target.status)
        if problem:
            raise Conflict(f"range {target.id} is {target.status}: {problem}",
                           code="invalid_transition",
                           details={"status": target.status, "action": action})
        record = RangeTransition(range_id=target.id, action=action,
                                 from_status=target.status, to_status=new_status,
                                 reason=reason, actor_org_id=principal.org_id,
                                 actor_key_id=principal.key_id, at=now)
        session.add(record)
        target.status = new_status
        target.updated_at = now
        event_serials = None
    else:
        intervals, named = _resolve_part(target, serials, first, last)
        _check_part(session, target, intervals, action)
        count = sum(end - start for start, end in intervals)
        record = RangeTransition(range_id=target.id, action=action, from_status=None,
                                 to_status=new_status, code_count=count, serials=named,
                                 reason=reason, actor_org_id=principal.org_id,
                                 actor_key_id=principal.key_id, at=now)
        session.add(record)
        session.flush()
        for start, end in intervals:
            session.add(SerialOverride(range_id=target.id, start_seq=start, end_seq=end,
                                       status=new_status, transition_id=record.id,
                                       created_at=now))
        target.updated_at = now
        event_serials = tuple(named)
    session.flush()
    publish(session, RangeTransitioned(range_id=target.id, action=action, at=now,
                                       actor_org_id=principal.org_id, serials=event_serials,
                                       reason=reason))
    session.commit()
    get_index().invalidate()
    return target


def _resolve_part(target: SerialRange, serials: list[str] | None, first: str | None,
                  last: str | None) -> tuple[list[tuple[int, int]], list[str]]:
    """Turn the request's serials into merged ``[start, end)`` intervals and the full list
    of serials covered (for the audit row and the event)."""
    if serials is not None and (first is not None or last is not None):
        raise InvalidInput("give either serials or from_serial/to_serial, not both",
                           code="ambiguous_selection")
    seqs: list[int]
    if serials is not None:
        if not serials:
            raise InvalidInput("serials must not be empty; leave it out to act on the "
                               "whole range", code="empty_selection")
        seqs = sorted({_seq_in_range(target, s) for s in serials})
    else:
        if first is None or last is None:
            raise InvalidInput("a sub-range needs both from_serial and to_serial",
                               code="incomplete_selection")
        low, high = _seq_in_range(target, first), _seq_in_range(target, last)
        if low > high:
            raise InvalidInput("from_serial comes after to_serial in this range's order",
                               code="reversed_selection")
        if high - low + 1 > MAX_PARTIAL_CODES:
            raise InvalidInput(f"a sub-range may cover at most {MAX_PARTIAL_CODES} codes; "
                               "split it or act on the whole range", code="selection_too_big")
        seqs = list(range(low, high + 1))
    intervals: list[tuple[int, int]] = []
    for seq in seqs:
        if intervals and intervals[-1][1] == seq:
            intervals[-1] = (intervals[-1][0], seq + 1)
        else:
            intervals.append((seq, seq + 1))
    encoder = get_codec().range_encoder(target.gtin, target.lot, target.key_id)
    named = [serial for start, end in intervals for _seq, serial in encoder.serials(start, end)]
    return intervals, named


def _seq_in_range(target: SerialRange, serial: str) -> int:
    try:
        seq = get_codec().verify(serial, target.gtin, target.lot)
    except InvalidSerial as exc:
        raise InvalidInput(f"serial {serial!r} is not a serial of range {target.id} "
                           f"({exc.reason})", code="serial_not_in_range",
                           details={"serial": serial, "reason": exc.reason}) from None
    if not target.start_seq <= seq < target.end_seq:
        raise InvalidInput(f"serial {serial!r} belongs to another range of this product",
                           code="serial_not_in_range", details={"serial": serial})
    return seq


def _check_part(session: Session, target: SerialRange, intervals: list[tuple[int, int]],
                action: str) -> None:
    overrides = list(session.execute(
        select(SerialOverride.start_seq, SerialOverride.end_seq, SerialOverride.status)
        .where(SerialOverride.range_id == target.id).order_by(SerialOverride.id)))
    refused: dict[str, int] = {}
    for start, end in intervals:
        for piece_start, piece_end, status in _pieces(target.status, overrides, start, end):
            problem = lifecycle.refusal(action, status)
            if problem:
                refused[problem] = refused.get(problem, 0) + piece_end - piece_start
    if refused:
        detail = "; ".join(f"{count} code(s): {problem}" for problem, count in refused.items())
        raise Conflict(f"cannot {action} these codes of range {target.id}: {detail}",
                       code="invalid_transition", details={"refused": refused})


def _pieces(range_status: str, overrides: Iterable, start: int, end: int):
    """Split ``[start, end)`` where overrides begin or end; yield each piece's status."""
    relevant = [(s, e, st) for s, e, st in overrides if s < end and e > start]
    cuts = sorted({start, end, *(max(s, start) for s, _e, _st in relevant),
                   *(min(e, end) for _s, e, _st in relevant)})
    for piece_start, piece_end in zip(cuts, cuts[1:], strict=False):
        statuses = [st for s, e, st in relevant if s <= piece_start and e >= piece_end]
        yield piece_start, piece_end, lifecycle.effective_status(range_status, statuses)


def history(session: Session, principal: Principal, range_id: int) -> list:
    """Every step of a range. Inspectors get the steps without their serials: a genuine
    serial is a stamp anyone can print, and code downloads are refused to them too."""
    get_range(session, principal, range_id)
    steps = list(session.scalars(select(RangeTransition)
                                 .where(RangeTransition.range_id == range_id)
                                 .order_by(RangeTransition.id)))
    if principal.role is Role.INSPECTOR:
        return [_without_serials(step) for step in steps]
    return steps


def _without_serials(step: RangeTransition) -> dict:
    """A detached copy (never the ORM row: a change to it would be flushed)."""
    fields = ("id", "action", "from_status", "to_status", "code_count", "reason",
              "actor_org_id", "actor_key_id", "at")
    copy = {name: getattr(step, name) for name in fields}
    copy["serials"] = None
    return copy


def code_counts(session: Session, target: SerialRange) -> dict[str, int]:
    """How many codes of the range are in each status (overrides applied)."""
    overrides = list(session.execute(
        select(SerialOverride.start_seq, SerialOverride.end_seq, SerialOverride.status)
        .where(SerialOverride.range_id == target.id).order_by(SerialOverride.id)))
    counts: dict[str, int] = {}
    for start, end, status in _pieces(target.status, overrides, target.start_seq,
                                      target.end_seq):
        counts[status] = counts.get(status, 0) + end - start
    return counts


def expiry_ok(value: dt.date | None) -> None:
    if value is not None and not dt.date(2000, 1, 1) <= value <= dt.date(2099, 12, 31):
        raise InvalidInput("expiry must be a date between 2000 and 2099 (GS1 AI 17 holds a "
                           "two-digit year)", code="invalid_expiry")
