"""The EPCIS 2.0 event hash ID (CBV 2.0, "EPCIS Event Hash ID"): ``ni:///sha-256;{hex}?ver=CBV2.0``.

An event captured without an eventID gets this one, computed from its content, so that the
same event sent twice (as a URN or a Digital Link, in any key order, with its time in any
offset) gets the same id and is stored once. The algorithm, written here from its published
description:

1. A pre-hash string starts with ``eventType={type}``, then the event's fields in the
   canonical order below, each as ``name=value``; absent fields add nothing. eventID,
   recordTime and certificationInfo take no part.
2. Lists add their name, then their elements, each element's text sorted lexically (so the
   order inside a list does not matter); structured elements (a quantity element, a
   bizTransaction with its type) concatenate their own fields in their canonical order.
3. Values are normalised: times to UTC with millisecond precision (``...T20:33:31.116Z``);
   GS1 keys (URNs, Digital Links on any domain) to canonical Digital Links on id.gs1.org;
   CBV terms (bare or URN) to their ``https://ref.gs1.org/cbv/...`` URIs; numbers without
   trailing zeros; strings trimmed.
4. Whatever is left (ilmd, sensor data, errorDeclaration, user extensions) follows, sorted,
   with extension names expanded by the document's @context (``example:myField`` becomes
   ``{http://ns.example.com/epcis/}myField``).
5. SHA-256 of the UTF-8 pre-hash string, in lower-case hex.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal, InvalidOperation

from . import identifiers

CBV = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://gs1.org/voc/"

# Field -> (CBV URI prefix, the URN prefix of the same vocabulary).
_VOCABULARY = {
    "bizStep": ("BizStep-", "urn:epcglobal:cbv:bizstep:"),
    "disposition": ("Disp-", "urn:epcglobal:cbv:disp:"),
    "set": ("Disp-", "urn:epcglobal:cbv:disp:"),
    "unset": ("Disp-", "urn:epcglobal:cbv:disp:"),
    "reason": ("ER-", "urn:epcglobal:cbv:er:"),
}
_TYPED = {
    "bizTransactionList": ("bizTransaction", "BTT-", "urn:epcglobal:cbv:btt:"),
    "sourceList": ("source", "SDT-", "urn:epcglobal:cbv:sdt:"),
    "destinationList": ("destination", "SDT-", "urn:epcglobal:cbv:sdt:"),
}
_QUANTITY_ORDER = ("epcClass", "quantity", "uom")
_EPC_LISTS = ("epcList", "inputEPCList", "childEPCs", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList",
                   "outputQuantityList")
# The canonical order of the standard fields (after eventType).
ORDER = ("eventTime", "eventTimeZoneOffset", "epcList", "parentID", "inputEPCList",
         "childEPCs", "quantityList", "childQuantityList", "inputQuantityList",
         "outputEPCList", "outputQuantityList", "action", "transformationID", "bizStep",
         "disposition", "persistentDisposition", "readPoint", "bizLocation",
         "bizTransactionList", "sourceList", "destinationList")
EXCLUDED = frozenset({"eventID", "recordTime", "type", "@context", "certificationInfo"})
_KNOWN = frozenset(ORDER) | EXCLUDED
_IDENTIFIER_FIELDS = frozenset({"parentID", "transformationID", "epcClass", "id",
                                "deviceID"})
_TIME_FIELDS = frozenset({"eventTime", "declarationTime", "time", "startTime", "endTime"})


def normalise_time(value: str) -> str:
    """An xsd:dateTime in UTC with millisecond precision, e.g. 2005-04-04T02:33:31.116Z."""
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return text
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    parsed = parsed.astimezone(dt.UTC)
    # Round (not truncate) to the millisecond, as the published algorithm does.
    micro = parsed.microsecond
    if micro % 1000:
        parsed = parsed.replace(microsecond=0) + dt.timedelta(milliseconds=round(micro / 1000))
    if parsed.year >= 1000:
        # isoformat is a third of strftime's cost; the same text from year 1000 on (strftime
        # does not pad smaller years).
        return parsed.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


def normalise_number(value) -> str:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value).strip()
    text = format(number.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".")


def _vocabulary(value: str, web_prefix: str, urn_prefix: str) -> str:
    text = value.strip()
    if text.startswith(urn_prefix):
        return CBV + web_prefix + text[len(urn_prefix):]
    if ":" not in text and "/" not in text:
        return CBV + web_prefix + text  # a bare CBV term
    return text


def _identifier(value: str) -> str:
    try:
        # The parse is cached (capture's index parsed the same identifiers a moment ago).
        found = identifiers.parse(value)
    except identifiers.InvalidIdentifier:
        found = None
    return found.uri if found is not None else value.strip()


def _scalar(name: str, value, namespaces: dict[str, str]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return normalise_number(value)
    text = str(value).strip()
    if name in _TIME_FIELDS:
        return normalise_time(text)
    if name in _VOCABULARY:
        return _vocabulary(text, *_VOCABULARY[name])
    if name in _IDENTIFIER_FIELDS or text.startswith(("urn:epc:", "http://", "https://")):
        return _identifier(text)
    if text.startswith("gs1:"):
        return GS1_VOC + text[4:]
    return _expand(text, namespaces) if ":" in text and " " not in text else text


def _expand(name: str, namespaces: dict[str, str]) -> str:
    """``prefix:local`` -> ``{namespace}local`` when the prefix is declared."""
    prefix, _, local = name.partition(":")
    if local and prefix in namespaces:
        return "{" + namespaces[prefix] + "}" + local
    return name


def _generic(name: str, value, namespaces: dict[str, str]) -> str:
    """Any field not in the canonical order: name, then its content, children sorted."""
    key = _expand(name, namespaces)
    if isinstance(value, dict):
        children = sorted(_generic(k, v, namespaces) for k, v in value.items()
                          if k not in ("@context",))
        return key + "".join(children)
    if isinstance(value, list):
        return "".join(sorted(_generic(name, item, namespaces) for item in value))
    if value is None:
        return key
    return f"{key}={_scalar(name, value, namespaces)}"


def _quantity_element(element: dict) -> str:
    parts = []
    for field in _QUANTITY_ORDER:
        if field in element:
            value = element[field]
            parts.append(f"{field}=" + (_identifier(value) if field == "epcClass"
                                        else normalise_number(value) if field == "quantity"
                                        else str(value).strip()))
    return "quantityElement" + "".join(parts)


def _typed(field: str, element: dict) -> str:
    # The value, then its type: bizTransaction=http://...type=https://ref.gs1.org/cbv/BTT-po
    name, web_prefix, urn_prefix = _TYPED[field]
    text = name + (f"={_identifier(str(element[name]))}" if name in element else "")
    if "type" in element:
        text += "type=" + _vocabulary(str(element["type"]), web_prefix, urn_prefix)
    return text


def _field(name: str, value, namespaces: dict[str, str]) -> str:
    if name in _EPC_LISTS:
        return name + "".join(sorted("epc=" + _identifier(str(v)) for v in value or []))
    if name in _QUANTITY_LISTS:
        return name + "".join(sorted(_quantity_element(e) for e in value or []
                                     if isinstance(e, dict)))
    if name in _TYPED:
        return name + "".join(sorted(_typed(name, e) for e in value or []
                                     if isinstance(e, dict)))
    if name in ("readPoint", "bizLocation") and isinstance(value, dict):
        rest = {k: v for k, v in value.items() if k != "id"}
        text = name + ("id=" + _identifier(str(value["id"])) if "id" in value else "")
        return text + "".join(sorted(_generic(k, v, namespaces) for k, v in rest.items()))
    if name == "persistentDisposition" and isinstance(value, dict):
        text = name
        for part in ("set", "unset"):
            text += "".join(sorted(f"{part}=" + _scalar(part, v, namespaces)
                                   for v in value.get(part) or []))
        return text
    if name == "eventTimeZoneOffset":
        return f"{name}={str(value).strip()}"
    return f"{name}={_scalar(name, value, namespaces)}"


def namespaces_of(context) -> dict[str, str]:
    """The prefix -> namespace map declared in a JSON-LD @context (list, dict or string)."""
    found: dict[str, str] = {}
    items = context if isinstance(context, list) else [context]
    for item in items:
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, str) and not key.startswith("@"):
                    found[key] = value
    return found


def prehash(event: dict, namespaces: dict[str, str] | None = None) -> str:
    ns = dict(namespaces or {})
    ns.update(namespaces_of(event.get("@context")))
    parts = [f"eventType={event.get('type', '')}"]
    for name in ORDER:
        if name in event and event[name] is not None:
            parts.append(_field(name, event[name], ns))
    parts += sorted(_generic(k, v, ns) for k, v in event.items() if k not in _KNOWN)
    return "".join(parts)


def event_hash_id(event: dict, namespaces: dict[str, str] | None = None) -> str:
    digest = hashlib.sha256(prehash(event, namespaces).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver=CBV2.0"
