"""Review before publication.

A party's master data, a product's consumer-facing data and each certificate enter
"pending" when they are created or changed in a province whose authority reviews; while
pending (or rejected) trace's publication filter withholds them from the stamp page, the
scan summary and the portal document. An authority of the province approves (published)
or rejects with a reason the firm sees; the firm answers (or changes the data) and the item
is pending again. Every step is a line in ``authority_review_log``.

Submission is not called by trace: a flush listener on the app's sessionmaker notices new
or changed subjects, so every write path (JSON API, EPCIS capture, demo, CLI) is covered
without trace knowing this package exists.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ..auth.models import Role
from ..auth.service import Principal
from ..db import utcnow
from ..errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ..products.models import Product
from ..trace import portal
from ..trace.access import bump_version
from ..trace.models import Certificate, Location, Lot, Party
from ..trace.publication import release, withhold
from ..trace.summary import get_cache
from .models import ProvincePolicy, ReviewItem, ReviewLog
from .scope import Scope, scope_of

# The attributes whose change makes a subject pending again (consumer-facing data).
WATCHED = {
    Party: ("party", ("name", "tax_code", "gln", "address", "province", "contact_name",
                      "phone", "email")),
    Product: ("product", ("name", "name_en", "description_vi", "description_en", "image_url",
                          "standards", "category", "country_of_origin", "shelf_life_days",
                          "consumer_hotline")),
    Certificate: ("certificate", ("scheme", "stars", "number", "issuer", "subject_type",
                                  "subject_id", "valid_from", "valid_to", "document_url")),
}
SUBJECT_NAMES = {"party": "Thông tin cơ sở", "product": "Thông tin sản phẩm",
                 "certificate": "Chứng nhận"}
PENDING_KEY = "scanapp.authority.pending"
CHANGED_KEY = "scanapp.authority.changed"


# -- where a subject belongs ------------------------------------------------------------------

def _brand_province(session: Session, org_id: int | None) -> str | None:
    if org_id is None:
        return None
    return session.scalar(select(Party.province).where(
        Party.org_id == org_id, Party.province.is_not(None)).order_by(Party.id).limit(1))


def locate(session: Session, kind: str, obj: Any) -> tuple[str | None, str | None, int | None,
                                                          str]:
    """(province, product category, answering org id, title) of a subject."""
    if kind == "party":
        return obj.province, None, obj.org_id, obj.name
    if kind == "product":
        return (_brand_province(session, obj.brand_org_id), obj.category, obj.brand_org_id,
                f"{obj.name} ({obj.gtin})")
    title = f"{obj.scheme} {obj.number}"
    subject = obj.subject_type
    if subject == "party":
        party = session.get(Party, obj.subject_id)
        return (party.province if party else None), None, obj.org_id, title
    if subject == "location":
        location = session.get(Location, obj.subject_id)
        return (location.province if location else None), None, obj.org_id, title
    if subject == "product":
        product = session.get(Product, obj.subject_id)
        if product is None:
            return None, None, obj.org_id, title
        return _brand_province(session, product.brand_org_id), product.category, obj.org_id, title
    lot = session.get(Lot, obj.subject_id)
    if lot is None:
        return None, None, obj.org_id, title
    province = (lot.party.province if lot.party else None) or (
        lot.location.province if lot.location else None)
    return province, lot.product.category, obj.org_id, title


def needs_review(session: Session, province: str | None, category: str | None) -> bool:
    if province is None:
        return False  # no province known: no authority to ask
    rules = session.get(ProvincePolicy, province)
    if rules is None or not rules.review_enabled:
        return False
    return not (category and category in (rules.trusted_categories or []))


# -- the flush listener -----------------------------------------------------------------------

def _changed(obj: Any, attrs: tuple[str, ...]) -> bool:
    from sqlalchemy import inspect

    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in attrs)


def _after_flush(session: Session, _context) -> None:
    seen = session.info.setdefault(PENDING_KEY, [])
    for obj in list(session.new) + list(session.dirty):
        spec = WATCHED.get(type(obj))
        if spec is None:
            continue
        kind, attrs = spec
        if obj in session.new or _changed(obj, attrs):
            seen.append((kind, obj))


def _before_commit(session: Session) -> None:
    # Processed at commit, not inside the flush: submitting reads and writes rows. The
    # commit's own flush comes after this event, so flush first to see every change.
    session.flush()
    pending = session.info.pop(PENDING_KEY, [])
    done: set[tuple[str, int]] = set()
    for kind, obj in pending:
        if obj.id is None or (kind, obj.id) in done:
            continue
        done.add((kind, obj.id))
        if kind == "certificate" and obj.status == "revoked":
            continue  # a revoked certificate is hidden anyway; nothing to review
        province, category, org_id, title = locate(session, kind, obj)
        if needs_review(session, province, category):
            submit(session, kind, obj.id, province, org_id, title)


def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outer transaction ended: a rollback forgets all
        session.info.pop(PENDING_KEY, None)


def _after_commit(session: Session) -> None:
    # This worker's scan summary cache must not show withheld data for the second the
    # version poll takes (other workers see the bumped version).
    if session.info.pop(CHANGED_KEY, False) and has_app_context():
        cache = get_cache(current_app)
        if cache is not None:
            cache.invalidate()


def init_app(app: Flask) -> None:
    maker = app.extensions["scanapp.sessionmaker"]
    event.listen(maker, "after_commit", _after_commit)
    event.listen(maker, "after_flush", _after_flush)
    event.listen(maker, "before_commit", _before_commit)
    event.listen(maker, "after_transaction_end", _after_transaction_end)


# -- the workflow -----------------------------------------------------------------------------

def _log(session: Session, item: ReviewItem, action: str, principal: Principal | None,
         note: str | None = None) -> None:
    session.add(ReviewLog(item_id=item.id, at=utcnow(), action=action, note=note,
                          actor_org_id=principal.org_id if principal else None,
                          actor_key_id=principal.key_id if principal else None))


def submit(session: Session, kind: str, subject_id: int, province: str, org_id: int | None,
           title: str) -> ReviewItem:
    """Make a subject pending (new, or changed after a decision); withhold it."""
    item = session.scalar(select(ReviewItem).where(ReviewItem.subject_type == kind,
                                                   ReviewItem.subject_id == subject_id))
    now = utcnow()
    if item is None:
        item = ReviewItem(subject_type=kind, subject_id=subject_id, province=province,
                          org_id=org_id, title=title[:300], state="pending", round=1,
                          submitted_at=now)
        session.add(item)
        session.flush()
        _log(session, item, "submitted", None)
    else:
        if item.state != "pending":
            item.round += 1
        item.state, item.province, item.title = "pending", province, title[:300]
        item.submitted_at = now
        _log(session, item, "changed", None)
    withhold(session, kind, subject_id)
    bump_version(session)
    session.info[CHANGED_KEY] = True
    return item


def reviews_query(session: Session, principal: Principal):
    query = select(ReviewItem).order_by(ReviewItem.submitted_at.desc(), ReviewItem.id.desc())
    if principal.role in (Role.AUTHORITY, Role.ADMIN):
        scope = scope_of(session, principal)
        return query if scope.province is None else query.where(
            ReviewItem.province == scope.province)
    # A firm sees the items it answers for.
    return query.where(ReviewItem.org_id == principal.org_id)


def list_reviews(session: Session, principal: Principal, state: str | None = None,
                 limit: int = 200) -> list[ReviewItem]:
    query = reviews_query(session, principal)
    if state:
        if state not in ("pending", "approved", "rejected"):
            raise InvalidInput("state must be pending, approved or rejected",
                               code="unknown_state")
        query = query.where(ReviewItem.state == state)
    return list(session.scalars(query.limit(limit)))


def get_review(session: Session, principal: Principal, item_id: int) -> ReviewItem:
    item = session.scalar(reviews_query(session, principal).where(ReviewItem.id == item_id))
    if item is None:
        raise NotFound(f"no review item with id {item_id}")
    return item


def history(session: Session, item: ReviewItem) -> list[ReviewLog]:
    return list(session.scalars(select(ReviewLog).where(ReviewLog.item_id == item.id)
                                .order_by(ReviewLog.id)))


def _decidable(session: Session, principal: Principal, item_id: int) -> ReviewItem:
    if principal.role is not Role.AUTHORITY:
        raise PermissionDenied("only an authority of the province decides reviews")
    item = get_review(session, principal, item_id)
    if item.state != "pending":
        raise Conflict(f"this item is {item.state}, not pending; only pending items are "
                       "decided", code="not_pending")
    return item


def _affected_lots(session: Session, item: ReviewItem) -> list[int]:
    if item.subject_type == "party":
        return list(session.scalars(select(Lot.id).where(Lot.party_id == item.subject_id)))
    if item.subject_type == "product":
        return list(session.scalars(select(Lot.id).where(Lot.product_id == item.subject_id)))
    cert = session.get(Certificate, item.subject_id)
    if cert is None:
        return []
    column = {"lot": Lot.id, "product": Lot.product_id, "party": Lot.party_id,
              "location": Lot.location_id}[cert.subject_type]
    return list(session.scalars(select(Lot.id).where(column == cert.subject_id)))


def approve(session: Session, principal: Principal, item_id: int,
            note: str | None = None) -> ReviewItem:
    item = _decidable(session, principal, item_id)
    item.state, item.reason = "approved", None
    item.decided_at, item.decided_by_org_id = utcnow(), principal.org_id
    _log(session, item, "approved", principal, (note or "").strip() or None)
    release(session, item.subject_type, item.subject_id)
    bump_version(session)
    session.info[CHANGED_KEY] = True
    # The portal gets the lots' documents again, now with the approved data.
    portal.enqueue(session, _affected_lots(session, item))
    session.commit()
    return item


def reject(session: Session, principal: Principal, item_id: int, reason: str) -> ReviewItem:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a rejection needs a reason the firm can act on",
                           code="reason_required")
    item = _decidable(session, principal, item_id)
    item.state, item.reason = "rejected", reason
    item.decided_at, item.decided_by_org_id = utcnow(), principal.org_id
    _log(session, item, "rejected", principal, reason)
    session.commit()
    return item


def answer(session: Session, principal: Principal, item_id: int, text: str) -> ReviewItem:
    """The firm answers a rejection (after fixing the data, or explaining); pending again."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput("the answer must not be empty", code="answer_required")
    item = session.scalar(select(ReviewItem).where(ReviewItem.id == item_id,
                                                   ReviewItem.org_id == principal.org_id))
    if item is None:
        raise NotFound(f"no review item with id {item_id}")
    if item.state != "rejected":
        raise Conflict(f"this item is {item.state}; only a rejected item is answered",
                       code="not_rejected")
    item.state, item.answer, item.round = "pending", text, item.round + 1
    item.submitted_at = utcnow()
    _log(session, item, "answered", principal, text)
    session.commit()
    return item


def set_policy(session: Session, principal: Principal, data: dict) -> ProvincePolicy:
    scope: Scope = scope_of(session, principal)
    province = data.get("province") or scope.province
    if province is None or not scope.covers(province):
        raise PermissionDenied("an authority sets the policy of its own province")
    row = session.get(ProvincePolicy, province)
    if row is None:
        from .scope import DEFAULT_TARGETS

        row = ProvincePolicy(province=province, review_enabled=True, trusted_categories=[],
                             targets=dict(DEFAULT_TARGETS))
        session.add(row)
    if "review_enabled" in data:
        row.review_enabled = bool(data["review_enabled"])
    if "trusted_categories" in data:
        row.trusted_categories = sorted({c.strip() for c in data["trusted_categories"]
                                         if c and c.strip()})
    if "targets" in data:
        row.targets = {**(row.targets or {}), **data["targets"]}
    if "plan" in data:
        row.plan = data["plan"]
    row.updated_at = utcnow()
    session.commit()
    return row
