"""scanapp facts -> EPCIS 2.0 ObjectEvents with CBV 2.0 vocabulary (pure functions).

The choices (see docs/EPCIS.md for the reasoning):

========================  ========  ==============  ================  ====================
scanapp step              action    bizStep         disposition       what
========================  ========  ==============  ================  ====================
range issued              ADD       commissioning   inactive          class level: quantity
range printed             OBSERVE   encoding        encoded           class level or serials
range activated           OBSERVE   shipping        active            class level or serials
range voided              DELETE    destroying      destroyed         class level or serials
range recalled            OBSERVE   holding         recalled          class level or serials
field inspection          OBSERVE   inspecting      (non_)conformant  the one serial
fraud flag raised         OBSERVE   (none)          (none)            scanapp:suspect true
case decided              OBSERVE   inspecting      (non_)conformant  scanapp:caseStatus
consumer scans (a day)    OBSERVE   (none)          (none)            class level, counts only
========================  ========  ==============  ================  ====================

Identifiers are GS1 Digital Link URIs on the service's public base URL: a serial as
``{base}/01/{gtin}[/10/{lot}]/21/{serial}``, a class (GTIN or GTIN + lot) as
``{base}/01/{gtin}[/10/{lot}]``. Whole-range steps are one class-level event with a
quantity, never one EPC per code. What CBV has no word for (a suspected counterfeit, a
risk score, a scan count) travels in extension fields of the ``scanapp`` namespace,
declared in each document's ``@context``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from urllib.parse import quote

from ..serials.stamps import stamp_uri

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SCHEMA_VERSION = "2.0"
# Vietnam has one time zone and no daylight saving: every event is local to UTC+7.
VN_TZ = dt.timezone(dt.timedelta(hours=7))
VN_OFFSET = "+07:00"

EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent",
               "AssociationEvent")

# The CBV 2.0 terms (ref.gs1.org/cbv, the bizStep and disposition JSON-LD contexts).
CBV_BIZSTEPS = frozenset("""accepting arriving assembling collecting commissioning consigning
creating_class_instance cycle_counting decommissioning departing destroying disassembling
dispensing encoding entering_exiting holding inspecting installing killing loading other
packing picking receiving removing repackaging repairing replacing reserving retail_selling
sampling sensor_reporting shipping staging_outbound stock_taking stocking storing
transporting unloading unpacking void_shipping""".split())
CBV_DISPOSITIONS = frozenset("""active available completeness_inferred completeness_verified
conformant container_closed container_open damaged destroyed dispensed disposed encoded
expired in_progress in_transit inactive mismatch_class mismatch_instance mismatch_quantity
needs_replacement no_pedigree_match non_conformant non_sellable_other partially_dispensed
recalled reserved retail_sold returned sellable_accessible sellable_not_accessible stolen
unavailable unknown""".split())

# Range lifecycle action -> (kind, EPCIS action, bizStep, disposition).
TRANSITIONS: dict[str, tuple[str, str, str, str]] = {
    "print": ("printed", "OBSERVE", "encoding", "encoded"),
    "activate": ("activated", "OBSERVE", "shipping", "active"),
    "void": ("voided", "DELETE", "destroying", "destroyed"),
    "recall": ("recalled", "OBSERVE", "holding", "recalled"),
}
LIFECYCLE_KINDS = ("issued",) + tuple(kind for kind, *_ in TRANSITIONS.values())
KINDS = LIFECYCLE_KINDS + ("inspected", "flagged", "case_decided", "scans_observed")

# Inspectors' findings and case statuses that say whether the item was genuine.
CONFORMANT = frozenset({"genuine", "authentic", "ok", "false_alarm"})
NON_CONFORMANT = frozenset({"counterfeit", "fake", "forged", "suspect", "suspicious", "clone",
                            "cloned", "confirmed_counterfeit", "tampered"})


@dataclass(frozen=True)
class RangeFacts:
    """What the events of a range need to know about it."""

    range_id: int
    gtin: str
    lot: str | None
    expiry: dt.date | None
    quantity: int
    brand_org_id: int | None
    printer_org_id: int | None


@dataclass(frozen=True)
class MappedEvent:
    """An event body and the columns it is filtered by."""

    kind: str
    body: dict
    gtin: str
    event_time: dt.datetime
    brand_org_id: int | None = None
    printer_org_id: int | None = None
    range_id: int | None = None

    @property
    def event_id(self) -> str:
        return self.body["eventID"]


def class_uri(base: str, gtin: str, lot: str | None = None) -> str:
    """GS1 Digital Link of a trade item class: the GTIN, or the GTIN and lot (an LGTIN)."""
    uri = f"{base}/01/{gtin}"
    return uri + (f"/10/{quote(lot, safe='')}" if lot else "")


def instance_uri(base: str, gtin: str, serial: str, lot: str | None = None) -> str:
    """GS1 Digital Link of one stamped item: the printed stamp URI without its query string.

    Built by the same function that prints the stamps, so the EPC is the stamp's own URI
    byte for byte. Data attributes such as expiry (``?17=``) are left out so that every
    event names the item with exactly the same string.
    """
    return stamp_uri(base, gtin, serial, lot)


def format_time(value: dt.datetime) -> str:
    """UTC with milliseconds; the zone the event happened in goes in eventTimeZoneOffset."""
    text = value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def ext(name: str) -> str:
    """An extension field name in scanapp's namespace."""
    return f"scanapp:{name}"


def _event(action: str, at: dt.datetime, biz_step: str | None = None,
           disposition: str | None = None) -> dict:
    body: dict = {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:{uuid.uuid4()}",
        "eventTime": format_time(at),
        "eventTimeZoneOffset": VN_OFFSET,
        "action": action,
    }
    if biz_step:
        body["bizStep"] = biz_step
    if disposition:
        body["disposition"] = disposition
    return body


def _range_what(base: str, rng: RangeFacts, serials: tuple[str, ...] | None) -> dict:
    """Some serials as EPCs, or the whole range as its class with a quantity."""
    if serials:
        unique = list(dict.fromkeys(serials))  # epcList must not repeat an EPC
        return {"epcList": [instance_uri(base, rng.gtin, s, rng.lot) for s in unique]}
    return {"quantityList": [{"epcClass": class_uri(base, rng.gtin, rng.lot),
                              "quantity": rng.quantity}]}


def without_serials(body: dict) -> dict:
    """A copy of an event whose epcList is replaced by counts per class (GTIN + lot).

    For readers who may know how many codes a step touched but not which: a genuine
    serial is a stamp anyone can print.
    """
    counts: dict[str, int] = {}
    for epc in body.get("epcList", ()):
        epc_class = epc.rsplit("/21/", 1)[0]
        counts[epc_class] = counts.get(epc_class, 0) + 1
    copy = {key: value for key, value in body.items() if key != "epcList"}
    copy["quantityList"] = [*body.get("quantityList", ()),
                            *({"epcClass": c, "quantity": n} for c, n in counts.items())]
    copy[ext("serialsWithheld")] = True
    return copy


def range_issued(base: str, rng: RangeFacts, at: dt.datetime) -> MappedEvent:
    body = _event("ADD", at, "commissioning", "inactive")
    body.update(_range_what(base, rng, None))
    # Instance/lot master data travels with the commissioning event, as CBV intends.
    ilmd: dict = {}
    if rng.lot:
        ilmd["cbvmda:lotNumber"] = rng.lot
    if rng.expiry:
        ilmd["cbvmda:itemExpirationDate"] = rng.expiry.isoformat()
    if ilmd:
        body["ilmd"] = ilmd
    body[ext("rangeId")] = rng.range_id
    return MappedEvent("issued", body, rng.gtin, at, rng.brand_org_id, rng.printer_org_id,
                       rng.range_id)


def range_transitioned(base: str, rng: RangeFacts, action: str, at: dt.datetime,
                       serials: tuple[str, ...] | None = None,
                       reason: str | None = None) -> MappedEvent:
    try:
        kind, epcis_action, biz_step, disposition = TRANSITIONS[action]
    except KeyError:
        raise ValueError(f"no EPCIS mapping for range action {action!r}") from None
    body = _event(epcis_action, at, biz_step, disposition)
    body.update(_range_what(base, rng, serials))
    body[ext("rangeId")] = rng.range_id
    if reason:
        body[ext("reason")] = reason
    return MappedEvent(kind, body, rng.gtin, at, rng.brand_org_id, rng.printer_org_id,
                       rng.range_id)


def _verdict_disposition(word: str) -> str | None:
    word = (word or "").strip().lower()
    if word in CONFORMANT:
        return "conformant"
    if word in NON_CONFORMANT:
        return "non_conformant"
    return None


def field_inspection(base: str, *, inspection_id: int, gtin: str, serial: str,
                     lot: str | None, at: dt.datetime, finding: str,
                     province: str | None, lat: float | None, lon: float | None,
                     brand_org_id: int | None) -> MappedEvent:
    disposition = _verdict_disposition(finding)
    body = _event("OBSERVE", at, "inspecting", disposition)
    body["epcList"] = [instance_uri(base, gtin, serial, lot)]
    if lat is not None and lon is not None:
        # No GLN for a market stall: the place is a geo URI (RFC 5870), which CBV 2.0 accepts
        # as a location identifier. An inspector's position is an official record, not
        # consumer data.
        body["readPoint"] = {"id": f"geo:{lat:.5f},{lon:.5f}"}
    body[ext("finding")] = finding
    if province:
        body[ext("province")] = province
    if disposition == "non_conformant":
        body[ext("suspect")] = True
    body[ext("inspectionId")] = inspection_id
    return MappedEvent("inspected", body, gtin, at, brand_org_id)


def flag_raised(base: str, *, flag_id: int, gtin: str, serial: str, lot: str | None,
                at: dt.datetime, risk: int, reasons: tuple[str, ...], escalated: bool,
                brand_org_id: int | None) -> MappedEvent:
    # Automated analysis is not a business step: no bizStep, no disposition (CBV has no
    # "suspect"); the extension says what scanapp concluded.
    body = _event("OBSERVE", at)
    body["epcList"] = [instance_uri(base, gtin, serial, lot)]
    body[ext("suspect")] = True
    body[ext("risk")] = risk
    body[ext("reasons")] = list(reasons)
    body[ext("escalated")] = escalated
    body[ext("flagId")] = flag_id
    return MappedEvent("flagged", body, gtin, at, brand_org_id)


def case_decided(base: str, *, case_id: int, gtin: str, serial: str, lot: str | None,
                 at: dt.datetime, status: str, brand_org_id: int | None) -> MappedEvent:
    disposition = _verdict_disposition(status)
    body = _event("OBSERVE", at, "inspecting", disposition)
    body["epcList"] = [instance_uri(base, gtin, serial, lot)]
    body[ext("caseStatus")] = status
    if disposition is not None:
        body[ext("suspect")] = disposition == "non_conformant"
    body[ext("caseId")] = case_id
    return MappedEvent("case_decided", body, gtin, at, brand_org_id)


def scans_observed(base: str, *, day: dt.date, gtin: str, province: str | None,
                   scans: int, codes: int, brand_org_id: int | None) -> MappedEvent:
    """One day's consumer scans of a GTIN in one province: counts only, nothing per device."""
    start = dt.datetime.combine(day, dt.time(), VN_TZ)
    body = _event("OBSERVE", start)
    # The quantity is the number of distinct stamped items seen; scans of the same item
    # repeat, so the scan count is an extension.
    body["quantityList"] = [{"epcClass": class_uri(base, gtin), "quantity": codes}]
    body[ext("scanCount")] = scans
    body[ext("period")] = "P1D"
    body[ext("province")] = province or "unknown"
    return MappedEvent("scans_observed", body, gtin, start, brand_org_id)


def document(events: list[dict], namespace: str, created: dt.datetime) -> dict:
    """An EPCISDocument holding ``events``."""
    return {
        "@context": [EPCIS_CONTEXT, {"scanapp": namespace}],
        "type": "EPCISDocument",
        "schemaVersion": SCHEMA_VERSION,
        "creationDate": format_time(created),
        "epcisBody": {"eventList": events},
    }
