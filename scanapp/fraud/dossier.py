"""A code's dossier: everything an inspector needs to judge one stamp on one page.

Product, range, printer and lifecycle come from the catalogue and the serials package;
every scan with time and place from ``scan_events``; the signals that fired, the case with
its trail, and the field inspections from this package. A code nobody has scanned, flagged
or inspected is reported as not found, as is a code of another brand's product. A brand
reads only the scans, flag and inspections made under its own GTINs (``build_dossier``).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.models import Role
from ..auth.service import Principal
from ..errors import DomainError, NotFound
from ..products.models import Product
from ..regions import PROVINCES
from ..risk.rules import AGGREGATE_SIGNALS, COUNTERFEIT_REASON, RULES_BY_ID
from ..scan.models import ScanEvent
from ..services import services
from .flags import FINDINGS, brand_may_see_gtin, inspections_for, org_names
from .models import Flag

# A dossier lists at most this many scans (newest kept): a clone may be scanned thousands
# of times, and the pattern is clear long before that.
MAX_SCANS = 2000
LOT_RECALL_PREFIX = "lot recall: "


def signal_info(reason: str) -> dict:
    rule = RULES_BY_ID.get(reason)
    if rule is None and reason in AGGREGATE_SIGNALS:
        return {"id": reason, **AGGREGATE_SIGNALS[reason]}
    if rule is None:
        return {"id": reason, "title_en": reason.replace("_", " "), "title_vi": reason,
                "explanation_en": "", "explanation_vi": ""}
    return {"id": rule.id, "title_en": rule.title_en, "title_vi": rule.title_vi,
            "explanation_en": rule.explanation_en, "explanation_vi": rule.explanation_vi}


def _trail_entry(event, names: dict[int, str]) -> dict:
    """One audit line. The flag writer stores the signals that raised or escalated a case
    as its note ("impossible_travel, many_devices"), a field inspection its finding
    ("counterfeit: note"): pages get them as ids (``signals``, ``finding``) to word, and
    the person's own words as ``remark``; ``note`` stays whole for the JSON API."""
    remark, signals, finding = event.note, [], None
    if event.action in ("raised", "escalated") and remark:
        signals, remark = [r.strip() for r in remark.split(",") if r.strip()], None
    elif event.action == "inspection" and remark:
        head, _sep, rest = remark.partition(":")
        if head in FINDINGS:
            finding, remark = head, rest.strip() or None
    return {"at": event.at, "action": event.action, "by": names.get(event.actor_org_id),
            "from_status": event.from_status, "to_status": event.to_status,
            "assignee": event.assignee, "risk": event.risk, "note": event.note,
            # for pages: the note split into its parts (the JSON API keeps ``note`` whole)
            "remark": remark, "signals": signals, "finding": finding}


def _range_section(session: Session, range_id: int | None, serial: str) -> dict:
    """Range, printer and lifecycle, when the serials package knows the range."""
    if range_id is None:
        return {"range": None, "printer": None, "lifecycle": []}
    try:
        from ..serials.models import RangeTransition, SerialRange
    except ImportError:  # pragma: no cover - the serials package is part of the service
        return {"range": {"id": range_id}, "printer": None, "lifecycle": []}
    rng = session.get(SerialRange, range_id)
    if rng is None:
        return {"range": {"id": range_id}, "printer": None, "lifecycle": []}
    transitions = session.scalars(select(RangeTransition).where(
        RangeTransition.range_id == range_id).order_by(RangeTransition.at, RangeTransition.id))
    names = org_names(session, [rng.printer_org_id, rng.brand_org_id])
    lifecycle = []
    for step in transitions:
        # A step naming some serials concerns this code only when it names it; a step
        # with a count but no list (a sub-range) is shown as it may cover it.
        if step.serials and serial not in step.serials:
            continue
        # A lot recall (scanapp.trace) writes its reason as "lot recall: <reason>": pages
        # get the person's words and the fact apart, to word the fact themselves.
        reason, by_lot = step.reason, False
        if reason and reason.startswith(LOT_RECALL_PREFIX):
            reason, by_lot = reason[len(LOT_RECALL_PREFIX):], True
        lifecycle.append({"at": step.at, "action": step.action, "from_status": step.from_status,
                          "to_status": step.to_status, "code_count": step.code_count,
                          "reason": step.reason, "remark": reason, "lot_recall": by_lot})
    return {
        "range": {"id": rng.id, "status": rng.status, "lot": rng.lot, "expiry": rng.expiry,
                  "quantity": rng.quantity, "market_regions": list(rng.market_regions or []),
                  "created_at": rng.created_at},
        "printer": ({"org_id": rng.printer_org_id, "name": names.get(rng.printer_org_id)}
                    if rng.printer_org_id else None),
        "lifecycle": lifecycle,
    }


def identify_unscanned(serial: str) -> tuple[str, int, str] | None:
    """(gtin, range id, code status) of a genuine serial nobody has scanned yet, else None.

    An inspector holding a product looks its stamp up before anyone scanned it. The serial
    layout is the documented one (ARCHITECTURE.md): key id, 11 characters of permuted
    sequence, 8 of tag; the range lookup and the signature check are the serials package's.
    """
    from ..serials.codec import ALPHABET, SERIAL_LENGTH
    from ..serials.lookup import code_status, find_range

    if len(serial) != SERIAL_LENGTH or any(ch not in ALPHABET for ch in serial):
        return None
    try:
        codec = services().codec
        permuted = 0
        for ch in serial[1:12]:
            permuted = permuted * len(ALPHABET) + ALPHABET.index(ch)
        seq = codec.signer(ALPHABET.index(serial[0])).unpermute(permuted)
        info = find_range(seq)
        if info is None or codec.verify(serial, info.gtin, info.lot) != seq:
            return None
        return info.gtin, info.id, code_status(info, seq)
    except DomainError:  # unknown or compromised key, bad signature: not a genuine code
        return None


def _scan_row(event: ScanEvent) -> dict:
    province = PROVINCES.get(event.province or "")
    return {"id": event.id, "at": event.scanned_at, "gtin": event.gtin, "verdict": event.verdict,
            "risk": event.risk, "reasons": list(event.reasons or []), "scan_no": event.scan_no,
            "province": event.province, "province_name": province.name if province else None,
            "lat": event.lat, "lon": event.lon, "cell": event.cell, "source": event.source,
            "device": (event.device_hash or "")[:8] or None}


def _gtin_scope(principal: Principal):
    """The GTINs whose records the caller may read: None for all (authorities), else a
    subquery of the brand's own products' GTINs."""
    if principal.role is not Role.BRAND:
        return None
    return select(Product.gtin).where(Product.brand_org_id == principal.org_id)


def build_dossier(session: Session, principal: Principal, serial: str) -> dict:
    """One serial's dossier, scoped by the GTIN of each record.

    A forged serial may be printed under several brands' GTINs. Each scan, the flag and
    each inspection carry the GTIN they were made under, and a brand reads only the records
    of its own GTINs: which GTIN the serial was last scanned under decides nothing.
    """
    serial = serial.strip().upper()
    scope = _gtin_scope(principal)

    def scoped(query, column):
        return query if scope is None else query.where(column.in_(scope))

    flag = session.scalar(scoped(select(Flag).where(Flag.serial == serial), Flag.gtin))
    scans = list(session.scalars(scoped(select(ScanEvent).where(ScanEvent.serial == serial),
                                        ScanEvent.gtin)
                                 .order_by(ScanEvent.scanned_at.desc(), ScanEvent.id.desc())
                                 .limit(MAX_SCANS)))
    scans.reverse()
    inspections = [i for i in inspections_for(session, serial)
                   if scope is None or brand_may_see_gtin(session, principal, i.gtin)]
    gtin = (flag.gtin if flag else None) or (scans[-1].gtin if scans else None) or \
        (inspections[0].gtin if inspections else None)
    range_id = (flag.range_id if flag else None) or next(
        (s.range_id for s in reversed(scans) if s.range_id is not None), None)
    identified = identify_unscanned(serial)
    if identified is not None and not brand_may_see_gtin(session, principal, identified[0]):
        # Genuine for another brand's product: for this caller it is a forgery of its own
        # GTINs, and the genuine range is none of its business.
        identified, range_id = None, None
    code_status = None
    if identified is not None:
        gtin, range_id, code_status = identified
    if gtin is None or not brand_may_see_gtin(session, principal, gtin):
        raise NotFound(f"no code {serial} was issued, scanned, flagged or inspected",
                       code="unknown_code")
    product = session.scalar(select(Product).where(Product.gtin == gtin))

    fired: list[str] = list(flag.reasons) if flag else []
    for event in scans:
        for reason in event.reasons or []:
            if reason not in fired:
                fired.append(reason)
    if any(s.verdict == "counterfeit" for s in scans) and COUNTERFEIT_REASON not in fired:
        fired.append(COUNTERFEIT_REASON)

    names = org_names(session, [i.inspector_org_id for i in inspections] +
                      ([e.actor_org_id for e in flag.trail] if flag else []))
    case = None
    if flag is not None:
        case = {
            "flag_id": flag.id, "status": flag.status, "assignee": flag.assignee,
            "risk": flag.risk, "raised_at": flag.raised_at, "updated_at": flag.updated_at,
            "escalations": flag.escalations,
            "notes": [{"at": e.at, "by": names.get(e.actor_org_id), "note": e.note}
                      for e in flag.trail if e.action == "note" or
                      (e.action == "status" and e.note)],
            "trail": [_trail_entry(e, names) for e in flag.trail],
        }
    total_scans = len(scans)
    if total_scans == MAX_SCANS:  # capped: count them all
        total_scans = session.scalar(scoped(select(func.count()).where(
            ScanEvent.serial == serial), ScanEvent.gtin))
    return {
        "serial": serial,
        "gtin": gtin,
        # Genuine = signed by us and inside an issued range; None for a forged code.
        "genuine": identified is not None,
        "code_status": code_status,
        "product": None if product is None else {
            "id": product.id, "gtin": product.gtin, "name": product.name,
            "name_en": product.name_en, "brand_org_id": product.brand_org_id,
            "brand": product.brand.name, "market_regions": list(product.market_regions or [])},
        **_range_section(session, range_id, serial),
        "risk": flag.risk if flag else max((s.risk for s in scans), default=0),
        "signals": [signal_info(r) for r in fired],
        "scan_count": total_scans,
        "scans_truncated": total_scans > len(scans),
        "first_scan_at": scans[0].scanned_at if scans else None,
        "last_scan_at": scans[-1].scanned_at if scans else None,
        "scans": [_scan_row(s) for s in scans],
        "flag": None if flag is None else {"id": flag.id, "risk": flag.risk,
                                           "reasons": list(flag.reasons),
                                           "status": flag.status},
        "case": case,
        "inspections": [{"id": i.id, "at": i.at, "finding": i.finding,
                         "inspector": names.get(i.inspector_org_id), "province": i.province,
                         "lat": i.lat, "lon": i.lon, "place": i.place, "note": i.note}
                        for i in inspections],
    }

