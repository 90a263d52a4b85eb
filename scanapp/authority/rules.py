"""Data-quality rules over traceability data, each named, with Vietnamese and English text.

They run nightly over everything (``flask --app scanapp authority check``) and, those
that look at the lots an event touched, on every capture (``QualityHook``, registered per
app; it never rejects an event: a rule that fires produces a finding, not a problem).
``shared_code``, ``identical_diary`` and ``label_not_trace`` compare across all parties,
diaries or a product's whole history, and ``gtin_prefix`` is about master data, so they are
nightly only. A finding is keyed by a
fingerprint, so a rule that keeps firing on the same thing does not fill the queue twice.

The rules, and the criticism of today's stamps each answers (issue 21):
- ``cert_invalid_at_event``: a certificate of the lot, product, place or party was expired
  or not yet valid when the event happened (and none of that scheme was valid then).
- ``shared_code``: one planting-area code or GLN used by two unrelated parties.
- ``identical_diary``: the same production-diary (ILMD) values, dates aside, in lots of
  several different farms: default values copied, not a diary.
- ``label_not_trace``: a product with stamps whose lots have no event after commissioning.
- ``impossible_order``: received before it was ever shipped; harvested after processing.
- ``output_exceeds_input``: a transformation that put out more than went in (same unit)
  beyond a tolerance.
- ``gtin_prefix``: a GTIN whose GS1 company prefix is not the brand's (its GLNs').
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..db import any_of, utcnow
from ..epcis.capture import document_state
from ..epcis.models import EpcisEvent
from ..products.models import Product
from ..serials.models import SerialRange
from ..trace.hook import document_lot_ids
from ..trace.models import Certificate, Location, Lot, LotEvent, Party, TracePartner
from .models import Finding

log = logging.getLogger(__name__)

MIN_FARMS = 3          # identical diaries in lots of this many different farms
TOLERANCE = 0.05       # outputs may exceed inputs by 5 % (moisture, rounding)
PREFIX_DIGITS = 8      # Vietnamese GS1 company prefixes: 893 + at least 5 digits
DIARY_IGNORED = ("date", "time", "harvest", "expiry", "bestbefore", "lot", "sellby")


@dataclass
class Hit:
    fingerprint: str
    subject_type: str
    subject_id: int | None
    message_vi: str
    message_en: str
    province: str | None = None
    gtin: str | None = None
    org_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    name: str
    title_vi: str
    title_en: str
    check: Callable[[Session, set[int] | None], list[Hit]]
    # Whether a capture of events about some lots can make it fire (else nightly only).
    on_capture: bool = True


# -- helpers ----------------------------------------------------------------------------------

def _lot_filter(query, column, lot_ids: set[int] | None, session: Session | None = None):
    if lot_ids is None:
        return query
    if session is not None and session.get_bind().dialect.name == "postgresql":
        # One array parameter: a capture's few hundred lots as an IN list are a placeholder
        # each, which the driver parses in Python.
        return query.where(any_of(column, sorted(lot_ids), Integer))
    return query.where(column.in_(lot_ids))


def _lot_province(lot: Lot) -> str | None:
    return (lot.party.province if lot.party else None) or (
        lot.location.province if lot.location else None)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False)
                          .encode()).hexdigest()[:24]


# -- the rules --------------------------------------------------------------------------------

# What the per-lot rules read of each lot event and its lot: Core rows, not ORM objects (a
# capture of a thousand events runs them on all of its lots); the Lot object is loaded only
# for a rule that fires.
_EVENT_ROW = (LotEvent.event_id, LotEvent.biz_step, LotEvent.event_type, LotEvent.event_time,
              LotEvent.location_id, LotEvent.role, LotEvent.details,
              Location.party_id.label("place_party_id"), Lot.id.label("lot_pk"),
              Lot.product_id, Lot.harvest_end)


_ROWS_MEMO = "authority.event_rows"


def _event_rows(session: Session, lot_ids: set[int] | None) -> list:
    """The lot events of these lots in time order, read once per ``run`` (two rules use
    them)."""
    memo = session.info.get(_ROWS_MEMO)
    if memo is not None and memo[0] == lot_ids:
        return memo[1]
    query = _lot_filter(select(*_EVENT_ROW).join(Lot, Lot.id == LotEvent.lot_id)
                        .outerjoin(Location, Location.id == LotEvent.location_id),
                        LotEvent.lot_id, lot_ids, session)
    rows = session.execute(query.order_by(LotEvent.event_time, LotEvent.id)).all()
    if memo is not None:
        session.info[_ROWS_MEMO] = (lot_ids, rows)
    return rows


def cert_invalid_at_event(session: Session, lot_ids: set[int] | None) -> list[Hit]:
    hits: list[Hit] = []
    rows = _event_rows(session, lot_ids)
    subjects_of = []
    wanted: dict[str, set[int]] = defaultdict(set)
    for event in rows:
        subjects = [("lot", event.lot_pk), ("product", event.product_id)]
        if event.location_id is not None:
            subjects += [("location", event.location_id), ("party", event.place_party_id)]
        subjects_of.append(subjects)
        for kind, ident in subjects:
            wanted[kind].add(ident)
    # Every certificate of every subject at once (one query per chunk), not one query an
    # event: a capture of a thousand events runs this on all of their lots.
    certs_of: dict[tuple[str, int], list[Certificate]] = defaultdict(list)
    postgres = session.get_bind().dialect.name == "postgresql"
    for kind, ids in wanted.items():
        ordered = sorted(ids)
        step = len(ordered) if postgres else 500  # one array parameter on PostgreSQL
        for start in range(0, len(ordered), max(step, 1)):
            for cert in session.scalars(_lot_filter(
                    select(Certificate).where(Certificate.subject_type == kind),
                    Certificate.subject_id, set(ordered[start:start + step]), session)
                    .order_by(Certificate.id)):
                certs_of[(kind, cert.subject_id)].append(cert)
    for event, subjects in zip(rows, subjects_of, strict=True):
        certs = [cert for subject in subjects for cert in certs_of.get(subject, ())]
        day = event.event_time.date()
        by_scheme: dict[str, list[Certificate]] = defaultdict(list)
        for cert in certs:
            by_scheme[cert.scheme].append(cert)
        for scheme, group in by_scheme.items():
            states = {cert.state_on(day) for cert in group}
            if "valid" in states or not states & {"expired", "not_yet_valid"}:
                continue
            cert = next(c for c in group if c.state_on(day) in ("expired", "not_yet_valid"))
            state = cert.state_on(day)
            lot = session.get(Lot, event.lot_pk)
            vi = "đã hết hạn" if state == "expired" else "chưa có hiệu lực"
            en = "had expired" if state == "expired" else "was not yet valid"
            hits.append(Hit(
                f"cert_invalid_at_event:{event.event_id}:{lot.id}:{scheme}", "lot", lot.id,
                f"Chứng nhận {cert.number} ({scheme}) {vi} vào ngày {day:%d/%m/%Y} của sự kiện "
                f"{event.biz_step or event.event_type} lô {lot.lot}.",
                f"Certificate {cert.number} ({scheme}) {en} on {day}, the day of the "
                f"{event.biz_step or event.event_type} event of lot {lot.lot}.",
                _lot_province(lot), lot.gtin, cert.org_id,
                {"certificate_id": cert.id, "event_id": event.event_id, "state": state,
                 "valid_from": str(cert.valid_from), "valid_to": str(cert.valid_to)}))
    return hits


def _related(session: Session, orgs: set[int]) -> bool:
    """Whether these organisations are one, or partners of one another."""
    if len(orgs) <= 1:
        return True
    if len(orgs) > 2:
        return False
    a, b = sorted(orgs)
    return session.scalar(select(func.count()).select_from(TracePartner).where(
        TracePartner.revoked_at.is_(None),
        or_((TracePartner.brand_org_id == a) & (TracePartner.partner_org_id == b),
            (TracePartner.brand_org_id == b) & (TracePartner.partner_org_id == a)))) > 0


def shared_code(session: Session, lot_ids: set[int] | None) -> list[Hit]:
    hits: list[Hit] = []
    owners: dict[tuple[str, str], dict[int, Party]] = defaultdict(dict)
    for location, party in session.execute(
            select(Location, Party).join(Party, Party.id == Location.party_id)).all():
        if location.planting_area_code:
            owners[("planting_area_code", location.planting_area_code)][party.id] = party
        owners[("gln", location.gln)][party.id] = party
    for party in session.scalars(select(Party).where(Party.gln.is_not(None))):
        owners[("gln", party.gln)][party.id] = party
    for (kind, code), parties in sorted(owners.items()):
        orgs = {p.org_id or -p.id for p in parties.values()}
        if len(parties) < 2 or _related(session, orgs):
            continue
        names = sorted(p.name for p in parties.values())
        what_vi = "Mã vùng trồng" if kind == "planting_area_code" else "Mã địa điểm GLN"
        what_en = "Planting-area code" if kind == "planting_area_code" else "GLN"
        first = min(parties.values(), key=lambda p: p.id)
        hits.append(Hit(
            f"shared_code:{kind}:{code}", "party", first.id,
            f"{what_vi} {code} được dùng bởi {len(parties)} cơ sở không liên quan: "
            f"{', '.join(names)}.",
            f"{what_en} {code} is used by {len(parties)} unrelated parties: {', '.join(names)}.",
            first.province, None, first.org_id,
            {"code": code, "kind": kind, "party_ids": sorted(parties)}))
    return hits


def _diary(ilmd: dict) -> dict:
    return {k: v for k, v in ilmd.items()
            if not any(word in k.lower().replace("_", "") for word in DIARY_IGNORED)}


def identical_diary(session: Session, lot_ids: set[int] | None) -> list[Hit]:
    rows = session.execute(
        select(LotEvent.lot_id, EpcisEvent.body, Lot.party_id, Lot.gtin, Lot.lot)
        .join(EpcisEvent, EpcisEvent.id == LotEvent.event_pk)
        .join(Lot, Lot.id == LotEvent.lot_id)
        .where(LotEvent.role.in_(("object", "output")))).all()
    groups: dict[str, dict[int, tuple[int | None, str, str]]] = defaultdict(dict)
    values: dict[str, dict] = {}
    for lot_id, body, party_id, gtin, lot in rows:
        diary = _diary((body or {}).get("ilmd") or {})
        if len(diary) < 2:
            continue  # one value alike (a variety name) is not a copied diary
        key = _digest(diary)
        values[key] = diary
        groups[key][lot_id] = (party_id, gtin, lot)
    hits: list[Hit] = []
    for key, lots in groups.items():
        farms = {party for party, _g, _l in lots.values() if party}
        if len(farms) < MIN_FARMS or (lot_ids is not None and not set(lots) & lot_ids):
            continue
        first_lot = session.get(Lot, min(lots))
        fields = ", ".join(f"{k}={v}" for k, v in sorted(values[key].items()))
        hits.append(Hit(
            f"identical_diary:{key}", "lot", first_lot.id,
            f"Nhật ký sản xuất giống hệt nhau ({fields}) ở {len(lots)} lô của {len(farms)} "
            "cơ sở khác nhau: có dấu hiệu điền giá trị mặc định.",
            f"Identical production diary ({fields}) in {len(lots)} lots of {len(farms)} "
            "different farms: looks like default values, not a diary.",
            _lot_province(first_lot), first_lot.gtin, None,
            {"values": values[key], "lots": [f"{g}/{lo}" for _p, g, lo in lots.values()],
             "party_ids": sorted(farms)}))
    return hits


def label_not_trace(session: Session, lot_ids: set[int] | None) -> list[Hit]:
    stamped = select(SerialRange.gtin).distinct()
    products = session.scalars(select(Product).where(Product.gtin.in_(stamped), Product.id.in_(
        select(Lot.product_id)))).all()
    hits: list[Hit] = []
    for product in products:
        lots = session.scalars(select(Lot).where(Lot.product_id == product.id)).all()
        if lot_ids is not None and not {lot.id for lot in lots} & lot_ids:
            continue
        moved = session.scalar(select(func.count()).select_from(LotEvent).where(
            LotEvent.lot_id.in_([lot.id for lot in lots]),
            or_(LotEvent.biz_step.is_(None), LotEvent.biz_step != "commissioning",
                LotEvent.event_type == "TransformationEvent")))
        if moved:
            continue
        hits.append(Hit(
            f"label_not_trace:{product.id}", "product", product.id,
            f"Sản phẩm {product.name} ({product.gtin}) có tem nhưng không có sự kiện nào sau "
            "khi sản xuất: tem chỉ hiện thông tin nhãn, không phải truy xuất nguồn gốc.",
            f"Product {product.name} ({product.gtin}) carries stamps but has no event after "
            "commissioning: a label, not a trace.",
            _lot_province(lots[0]) if lots else None, product.gtin, product.brand_org_id,
            {"lots": [lot.lot for lot in lots]}))
    return hits


def impossible_order(session: Session, lot_ids: set[int] | None) -> list[Hit]:
    by_lot: dict[int, list] = {}
    for event in _event_rows(session, lot_ids):
        by_lot.setdefault(event.lot_pk, []).append(event)
    hits: list[Hit] = []
    for lot_pk, events in by_lot.items():
        lot = _LazyLot(session, lot_pk, events[0].harvest_end)
        shipped = [e.event_time for e in events if e.biz_step == "shipping"]
        received = [e.event_time for e in events if e.biz_step == "receiving"]
        if shipped and received and min(received) < min(shipped):
            hits.append(Hit(
                f"impossible_order:received:{lot.id}", "lot", lot.id,
                f"Lô {lot.lot} được nhận lúc {min(received):%d/%m/%Y %H:%M} UTC, trước khi "
                f"được xuất lần đầu ({min(shipped):%d/%m/%Y %H:%M} UTC).",
                f"Lot {lot.lot} was received at {min(received):%Y-%m-%d %H:%M} UTC, before it "
                f"was first shipped ({min(shipped):%Y-%m-%d %H:%M} UTC).",
                _lot_province(lot), lot.gtin, lot.created_by_org_id,
                {"received": min(received).isoformat(), "shipped": min(shipped).isoformat()}))
        harvested = [e.event_time for e in events if e.details.get("harvest")]
        processed = [e.event_time for e in events
                     if e.event_type == "TransformationEvent" and e.role == "input"]
        late_harvest = max(harvested) if harvested else None
        if processed and late_harvest is None and lot.harvest_end is not None \
                and lot.harvest_end > min(processed).date():
            late_harvest = lot.harvest_end
        if processed and late_harvest is not None and (
                late_harvest > (min(processed) if harvested else min(processed).date())):
            hits.append(Hit(
                f"impossible_order:harvest:{lot.id}", "lot", lot.id,
                f"Lô {lot.lot} được ghi thu hoạch ({late_harvest:%d/%m/%Y}) sau khi đã đưa "
                f"vào chế biến ({min(processed):%d/%m/%Y}).",
                f"Lot {lot.lot} is recorded as harvested ({late_harvest:%Y-%m-%d}) after it "
                f"went into processing ({min(processed):%Y-%m-%d}).",
                _lot_province(lot), lot.gtin, lot.created_by_org_id,
                {"harvest": late_harvest.isoformat(), "processed": min(processed).isoformat()}))
    return hits


class _LazyLot:
    """A lot's harvest end at hand; any other attribute loads the Lot (only when a rule
    fires and its message needs it)."""

    def __init__(self, session: Session, lot_id: int, harvest_end) -> None:
        self.id, self.harvest_end = lot_id, harvest_end
        self._session, self._lot = session, None

    def __getattr__(self, name: str):
        if self._lot is None:
            self._lot = self._session.get(Lot, self.id)
        return getattr(self._lot, name)


def output_exceeds_input(session: Session, lot_ids: set[int] | None) -> list[Hit]:
    transformation = LotEvent.event_type == "TransformationEvent"
    # Core rows (a capture runs this on all of its lots), for transformations only.
    query = select(LotEvent.event_id, LotEvent.lot_id, LotEvent.role, LotEvent.quantity,
                   LotEvent.unit).where(transformation).order_by(LotEvent.id)
    if lot_ids is not None:
        query = query.where(LotEvent.event_id.in_(_lot_filter(
            select(LotEvent.event_id).where(transformation), LotEvent.lot_id, lot_ids,
            session)))
    by_event: dict[str, list] = defaultdict(list)
    for row in session.execute(query):
        by_event[row.event_id].append(row)
    hits: list[Hit] = []
    for event_id, rows in by_event.items():
        sums: dict[tuple[str, str], float] = defaultdict(float)
        for row in rows:
            if row.quantity is not None and row.unit and row.role in ("input", "output"):
                sums[(row.role, row.unit)] += float(row.quantity)
        for (role, unit), out in sums.items():
            if role != "output" or ("input", unit) not in sums:
                continue
            inp = sums[("input", unit)]
            if out <= inp * (1 + TOLERANCE):
                continue
            lot = session.get(Lot, next(r.lot_id for r in rows if r.role == "output"))
            hits.append(Hit(
                f"output_exceeds_input:{event_id}:{unit}", "lot", lot.id,
                f"Chế biến ra {out:g} {unit} từ {inp:g} {unit} đầu vào (vượt {TOLERANCE:.0%} "
                f"cho phép) ở lô {lot.lot}.",
                f"A transformation put out {out:g} {unit} from {inp:g} {unit} of inputs "
                f"(beyond the {TOLERANCE:.0%} tolerance), lot {lot.lot}.",
                _lot_province(lot), lot.gtin, lot.created_by_org_id,
                {"event_id": event_id, "input": inp, "output": out, "unit": unit}))
    return hits


def gtin_prefix(session: Session, lot_ids: set[int] | None) -> list[Hit]:
    query = select(Product)
    if lot_ids is not None:
        query = query.where(Product.id.in_(select(Lot.product_id).where(Lot.id.in_(lot_ids))))
    hits: list[Hit] = []
    for product in session.scalars(query):
        parties = session.scalars(select(Party).where(Party.org_id == product.brand_org_id)
                                  ).all()
        glns = {p.gln for p in parties if p.gln} | set(session.scalars(
            select(Location.gln).where(Location.party_id.in_([p.id for p in parties]))))
        gtin13 = product.gtin[1:]
        if not glns or not gtin13.startswith("89"):
            continue  # no known prefix of the brand; foreign GTINs are importers' business
        if any(gln[:PREFIX_DIGITS] == gtin13[:PREFIX_DIGITS] for gln in glns):
            continue
        province = next((p.province for p in parties if p.province), None)
        hits.append(Hit(
            f"gtin_prefix:{product.id}", "product", product.id,
            f"Mã GTIN {product.gtin} của {product.name} không thuộc mã doanh nghiệp GS1 của "
            f"chủ nhãn hàng (GLN {', '.join(sorted(glns))}).",
            f"GTIN {product.gtin} of {product.name} is not under the brand's GS1 company "
            f"prefix (GLNs {', '.join(sorted(glns))}).",
            province, product.gtin, product.brand_org_id,
            {"gtin_prefix": gtin13[:PREFIX_DIGITS], "brand_glns": sorted(glns)}))
    return hits


RULES: tuple[Rule, ...] = (
    Rule("cert_invalid_at_event", "Chứng nhận hết hạn hoặc chưa hiệu lực tại thời điểm sự kiện",
         "Certificate expired or not yet valid at the event's time", cert_invalid_at_event),
    # These two compare across every party / every diary: a capture must not pay a scan of
    # the whole database, so they run nightly (and on demand with 'authority check').
    Rule("shared_code", "Mã vùng trồng hoặc GLN dùng chung giữa các cơ sở không liên quan",
         "Planting-area code or GLN used by unrelated parties", shared_code,
         on_capture=False),
    Rule("identical_diary", "Nhật ký sản xuất giống hệt nhau giữa nhiều nông hộ",
         "Identical diary values across lots of different farms", identical_diary,
         on_capture=False),
    Rule("label_not_trace", "Có tem nhưng không có sự kiện sau sản xuất (chỉ là nhãn)",
         "Stamps but no events after commissioning (a label, not a trace)", label_not_trace,
         on_capture=False),
    Rule("impossible_order", "Thứ tự thời gian không thể xảy ra",
         "Impossible time order", impossible_order),
    Rule("output_exceeds_input", "Đầu ra vượt đầu vào quá mức cho phép",
         "Outputs exceed inputs beyond the tolerance", output_exceeds_input),
    # Master data, not events: nightly is soon enough and keeps it off the capture path.
    Rule("gtin_prefix", "GTIN không thuộc mã doanh nghiệp của chủ nhãn",
         "GTIN not under the brand's company prefix", gtin_prefix, on_capture=False),
)
RULES_BY_NAME = {rule.name: rule for rule in RULES}


def run(session: Session, lot_ids: Iterable[int] | None = None, *, found_by: str = "nightly",
        only: Iterable[str] | None = None) -> list[Finding]:
    """Run the rules (on these lots, or on everything) and store new findings."""
    scope = set(lot_ids) if lot_ids is not None else None
    chosen = [RULES_BY_NAME[name] for name in only] if only else list(RULES)
    session.info[_ROWS_MEMO] = (object(), [])
    try:
        return _run_rules(session, chosen, scope, found_by)
    finally:
        session.info.pop(_ROWS_MEMO, None)


def _run_rules(session: Session, chosen: list[Rule], scope: set[int] | None,
               found_by: str) -> list[Finding]:
    new: list[Finding] = []
    for rule in chosen:
        if scope is not None and not rule.on_capture:
            continue
        hits = rule.check(session, scope)
        # Which fingerprints are known already: one query per chunk, not one per hit.
        prints = sorted({hit.fingerprint[:200] for hit in hits})
        known: set[str] = set()
        for start in range(0, len(prints), 500):
            known.update(session.scalars(select(Finding.fingerprint).where(
                Finding.fingerprint.in_(prints[start:start + 500]))))
        for hit in hits:
            if hit.fingerprint[:200] in known:
                continue
            known.add(hit.fingerprint[:200])
            finding = Finding(rule=rule.name, fingerprint=hit.fingerprint[:200],
                              province=hit.province, subject_type=hit.subject_type,
                              subject_id=hit.subject_id, gtin=hit.gtin, org_id=hit.org_id,
                              message_vi=hit.message_vi, message_en=hit.message_en,
                              details=hit.details, state="open", found_at=utcnow(),
                              found_by=found_by)
            session.add(finding)
            new.append(finding)
        session.flush()
    return new


class QualityHook:
    """The capture hook (the CaptureHook contract in scanapp/epcis/capture.py): ``check``
    never objects; the rules run on the lots the events touched, in the capture's
    transaction: once per document in ``finish`` (after scanapp.trace's hook, registered
    before this one, wrote its lot events), or at once in ``apply`` when the capture did
    not ``prepare`` a document."""

    def check(self, session: Session, principal, event: dict, index: int) -> list:
        return []

    def prepare(self, session: Session, principal, events) -> None:
        state = document_state(session)
        if state is not None:
            state["quality"] = []

    def apply(self, session: Session, principal, event: dict, stored) -> None:
        state = document_state(session)
        if state is not None and "quality" in state:
            state["quality"].append(stored)
            return
        self._run(session, [stored])

    def finish(self, session: Session, principal) -> None:
        state = document_state(session)
        stored = state.pop("quality", None) if state is not None else None
        if stored:
            self._run(session, stored)

    @staticmethod
    def _run(session: Session, stored: list) -> None:
        session.flush()
        # scanapp.trace's hook (registered before this one) says which lots it gave lot
        # events to; only without it are they looked up (by event, which has no index).
        written = document_lot_ids(session)
        lot_ids: set[int] = set(written) if written is not None else set()
        pks = sorted({row.id for row in stored}) if written is None else []
        for start in range(0, len(pks), 500):
            lot_ids.update(session.scalars(select(LotEvent.lot_id).where(
                LotEvent.event_pk.in_(pks[start:start + 500]))))
        if not lot_ids:
            return
        try:
            with session.begin_nested():
                run(session, lot_ids, found_by="capture")
        except SQLAlchemyError as exc:
            # A finding lost is checked again tonight; the capture itself must not fail.
            log.warning("data-quality rules skipped on capture (%s)", type(exc).__name__)
