"""The plain JSON API's events: a clerk says "we harvested 1.2 t of lot NH2407A here", and
scanapp writes the EPCIS 2.0 event for them and stores it through ``capture_events`` (the
one path every event takes, so the EPCIS query binding answers for these too).

Event shapes (CBV 2.0):

===============  ===================  ========  =============  ===========================
clerk says       EPCIS type           action    bizStep        what travels
===============  ===================  ========  =============  ===========================
harvest          ObjectEvent          ADD       commissioning  quantityList, ILMD dates
production       ObjectEvent          ADD       commissioning  quantityList, ILMD dates
transformation   TransformationEvent  (none)    commissioning  input/outputQuantityList,
                                                / packing      ILMD of the outputs
packing          AggregationEvent     ADD       packing        parentID (SSCC), children
shipment         ObjectEvent          OBSERVE   shipping       source/destinationList,
                                                               bizTransactionList (desadv)
receipt          ObjectEvent          OBSERVE   receiving      source/destinationList
inspection       ObjectEvent          OBSERVE   inspecting     disposition (non_)conformant
recall           ObjectEvent          OBSERVE   holding        persistentDisposition
===============  ===================  ========  =============  ===========================
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from biip import ParseError
from biip.sscc import Sscc
from flask import Flask, current_app
from sqlalchemy.orm import Session

from ..auth.service import Principal
from ..db import utcnow
from ..epcis import mapping
from ..epcis.capture import capture_events
from ..epcis.settings import setting
from ..errors import InvalidInput
from ..gs1 import normalize_gtin
from . import codes
from .access import org_party
from .models import Location, Party
from .summary import get_cache

VN_OFFSET = "+07:00"


def _time(value: dt.datetime | None) -> str:
    value = value or utcnow()
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone(dt.timedelta(hours=7)))
    return mapping.format_time(value)


def _qty(item: dict) -> dict:
    gtin = normalize_gtin(item["gtin"])
    element: dict[str, Any] = {"epcClass": codes.lot_uri(gtin, item["lot"])}
    if item.get("quantity") is not None:
        quantity = Decimal(str(item["quantity"]))
        element["quantity"] = float(quantity) if quantity != quantity.to_integral() \
            else int(quantity)
        if item.get("unit"):
            element["uom"] = item["unit"]
    return element


def _location(session: Session, location_id: int | None, what: str) -> Location | None:
    if location_id is None:
        return None
    location = session.get(Location, location_id)
    if location is None:
        raise InvalidInput(f"no {what} with id {location_id}", code="unknown_location")
    return location


def _party(session: Session, party_id: int | None, what: str) -> Party | None:
    if party_id is None:
        return None
    party = session.get(Party, party_id)
    if party is None:
        raise InvalidInput(f"no {what} with id {party_id}", code="unknown_party")
    if not party.gln:
        raise InvalidInput(f"{what} {party.name} has no GLN (AI 417): events name parties by "
                           "GLN; add it to the party first", code="party_without_gln")
    return party


def _sgln(location: Location) -> str:
    return codes.location_uri(location.gln, location.extension)


def _base(kind: str, when: dt.datetime | None, location: Location | None,
          biz_step: str, action: str | None, disposition: str | None) -> dict:
    event: dict[str, Any] = {"type": kind, "eventTime": _time(when),
                             "eventTimeZoneOffset": VN_OFFSET}
    if action:
        event["action"] = action
    event["bizStep"] = biz_step
    if disposition:
        event["disposition"] = disposition
    if location is not None:
        event["readPoint"] = {"id": _sgln(location)}
        event["bizLocation"] = {"id": _sgln(location)}
    return event


def _ilmd(data: dict) -> dict:
    ilmd: dict[str, Any] = {}
    for field, key in (("harvest_start", "cbvmda:harvestStartDate"),
                       ("harvest_end", "cbvmda:harvestEndDate"),
                       ("best_before", "cbvmda:bestBeforeDate"),
                       ("expiry_date", "cbvmda:itemExpirationDate"),
                       ("production_date", mapping.ext("productionDate"))):
        if data.get(field):
            ilmd[key] = data[field].isoformat()
    if data.get("country_of_origin"):
        ilmd["cbvmda:countryOfOrigin"] = data["country_of_origin"]
    return ilmd


def _ends(entries: list[tuple[str, Party | None, Location | None]]) -> list[dict]:
    out: list[dict] = []
    for key, party, location in entries:
        if party is not None and party.gln:
            out.append({"type": "owning_party", key: codes.party_uri(party.gln)})
        if location is not None:
            out.append({"type": "location", key: _sgln(location)})
    return out


def _doc(location: Location | None, number: str | None, kind: str = "desadv") -> list[dict]:
    if not number:
        return []
    owner = location.gln if location is not None else "0000000000000"
    return [{"type": kind,
             "bizTransaction": f"urn:epcglobal:cbv:bt:{owner}:{quote(number, safe='')}"}]


# -- builders (one per clerk action) ---------------------------------------------------------

def build_commissioning(session: Session, principal: Principal, data: dict) -> dict:
    location = _location(session, data.get("location_id"), "location")
    event = _base("ObjectEvent", data.get("event_time"), location, "commissioning", "ADD",
                  "active")
    event["quantityList"] = [_qty(data)]
    ilmd = _ilmd(data)
    if ilmd:
        event["ilmd"] = ilmd
    return event


def build_transformation(session: Session, principal: Principal, data: dict) -> dict:
    location = _location(session, data.get("location_id"), "location")
    step = {"processing": "commissioning", "packing": "packing",
            "repackaging": "repackaging"}[data.get("step", "processing")]
    event = _base("TransformationEvent", data.get("event_time"), location, step, None,
                  "active")
    event["inputQuantityList"] = [_qty(item) for item in data["inputs"]]
    event["outputQuantityList"] = [_qty(item) for item in data["outputs"]]
    event["transformationID"] = data.get("transformation_id") or f"urn:uuid:{uuid.uuid4()}"
    # EPCIS carries one ILMD per event: the outputs' dates must agree (or be given once).
    dates = dict(data)
    for name in ("production_date", "expiry_date", "best_before"):
        values = {item[name] for item in data["outputs"] if item.get(name)}
        if data.get(name):
            values.add(data[name])
        if len(values) > 1:
            raise InvalidInput(f"the outputs have different {name} values: record them as "
                               "separate transformations", code="conflicting_dates")
        if values:
            dates[name] = values.pop()
    ilmd = _ilmd(dates)
    if ilmd:
        event["ilmd"] = ilmd
    return event


def build_packing(session: Session, principal: Principal, data: dict) -> dict:
    location = _location(session, data.get("location_id"), "location")
    try:
        sscc = Sscc.parse(data["sscc"]).value
    except ParseError as exc:
        raise InvalidInput(f"SSCC {data['sscc']!r} is not valid: {exc}",
                           code="invalid_sscc") from None
    event = _base("AggregationEvent", data.get("event_time"), location, "packing", "ADD",
                  "in_progress")
    event["parentID"] = f"https://id.gs1.org/00/{sscc}"
    event["childQuantityList"] = [_qty(item) for item in data["items"]]
    return event


def build_shipment(session: Session, principal: Principal, data: dict) -> dict:
    location = _location(session, data.get("location_id"), "location")
    to_party = _party(session, data.get("to_party_id"), "receiving party")
    to_location = _location(session, data.get("to_location_id"), "destination location")
    if to_party is None and to_location is None:
        raise InvalidInput("name the receiver: to_party_id and/or to_location_id",
                           code="missing_destination")
    me = location.party if location is not None else org_party(session, principal.org_id)
    event = _base("ObjectEvent", data.get("event_time"), location, "shipping", "OBSERVE",
                  "in_transit")
    event["quantityList"] = [_qty(item) for item in data["items"]]
    event["bizTransactionList"] = _doc(location, data.get("document"))
    if not event["bizTransactionList"]:
        del event["bizTransactionList"]
    event["sourceList"] = _ends([("source", me, location)])
    event["destinationList"] = _ends([("destination", to_party, to_location)])
    return event


def build_receipt(session: Session, principal: Principal, data: dict) -> dict:
    location = _location(session, data.get("location_id"), "location")
    from_party = _party(session, data.get("from_party_id"), "shipping party")
    from_location = _location(session, data.get("from_location_id"), "origin location")
    me = location.party if location is not None else org_party(session, principal.org_id)
    event = _base("ObjectEvent", data.get("event_time"), location, "receiving", "OBSERVE",
                  "in_progress")
    event["quantityList"] = [_qty(item) for item in data["items"]]
    docs = _doc(from_location, data.get("document"))
    if docs:
        event["bizTransactionList"] = docs
    sources = _ends([("source", from_party, from_location)])
    if sources:
        event["sourceList"] = sources
    event["destinationList"] = _ends([("destination", me, location)])
    return event


def build_inspection(session: Session, principal: Principal, data: dict) -> dict:
    location = _location(session, data.get("location_id"), "location")
    passed = data["result"] == "pass"
    event = _base("ObjectEvent", data.get("event_time"), location, "inspecting", "OBSERVE",
                  "conformant" if passed else "non_conformant")
    event["quantityList"] = [_qty(item) for item in data["items"]]
    event[mapping.ext("inspectionResult")] = data["result"]
    if data.get("note"):
        event[mapping.ext("note")] = data["note"]
    if data.get("document"):
        event["bizTransactionList"] = _doc(location, data["document"], "testprd")
    return event


BUILDERS = {
    "harvest": build_commissioning, "production": build_commissioning,
    "transformation": build_transformation, "packing": build_packing,
    "shipment": build_shipment, "receipt": build_receipt, "inspection": build_inspection,
}


# -- storing -------------------------------------------------------------------------------

def namespaces(app: Flask) -> dict[str, str]:
    return {"scanapp": setting(app, "EPCIS_NAMESPACE")}


def capture(session: Session, principal: Principal, events: list[dict]):
    """Store ``events`` through the capture pipeline with the app's hooks, or raise
    ``InvalidInput`` listing every problem (nothing stored). The caller commits."""
    app = current_app._get_current_object()
    result = capture_events(session, principal, events,
                            hooks=app.extensions.get("scanapp.epcis.capture_hooks", []),
                            namespaces=namespaces(app))
    if result.problems:
        session.rollback()
        raise InvalidInput(
            f"the event was not recorded: {len(result.problems)} problem(s)",
            code="event_refused",
            details={"problems": [problem.as_dict() for problem in result.problems]})
    return result


def record(session: Session, principal: Principal, kind: str, data: dict) -> dict:
    event = BUILDERS[kind](session, principal, data)
    result = capture(session, principal, [event])
    session.commit()
    cache = get_cache(current_app)
    if cache is not None:
        cache.invalidate()
    stored = result.stored[0] if result.stored else None
    return {"event_id": stored.event_id if stored else result.already_stored[0],
            "already_stored": stored is None, "event": stored.body if stored else event}
