"""GS1-Conformant resolver rules for stamp URIs ``/01/{gtin}[/22/..][/10/{lot}][/21/{serial}]``.

Decisions (see docs/SCAN.md):
- A syntactically invalid Digital Link (check digit, characters, qualifier order) is 400;
  an unknown GTIN 404; a requested link type the item does not have 404.
- ``?linkType=linkset`` / ``all`` or ``Accept: application/linkset+json``: the RFC 9264
  linkset. ``?linkType=<type>``: 307 to that link, query string passed on.
- No link type and a browser asking for HTML: the verification page is served *directly*
  (200), because the phone's first request is the stamp URI and a redirect costs a round
  trip on 3G. Any other client without a link type gets a 307 to the default link.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI

from ..errors import MalformedRequest, NotFound

GS1_VOC = "https://gs1.org/voc/"
LINKSET_TYPE = "application/linkset+json"
MAX_PATH = 512


class InvalidDigitalLink(MalformedRequest):
    """Not a syntactically valid GS1 Digital Link URI: answered with 400 (resolver rule)."""

    code = "invalid_digital_link"


class LinkTypeNotFound(NotFound):
    code = "link_type_not_found"


@dataclass(frozen=True)
class ItemPath:
    gtin: str
    cpv: str | None = None
    lot: str | None = None
    serial: str | None = None

    def path(self) -> str:
        text = f"/01/{self.gtin}"
        for ai, value in (("22", self.cpv), ("10", self.lot), ("21", self.serial)):
            if value:
                text += f"/{ai}/{quote(value, safe='')}"
        return text


def parse_item_path(path: str) -> ItemPath:
    """Validate a Digital Link path (from ``/01/``) with biip: check digit, GS1 character set
    and length of each qualifier, qualifier order."""
    path = path.rstrip("/")
    if len(path) > MAX_PATH:
        raise InvalidDigitalLink("the Digital Link path is too long")
    try:
        parsed = GS1DigitalLinkURI.parse("https://resolver.invalid" + path)
    except (ParseError, ValueError) as exc:
        raise InvalidDigitalLink(f"not a valid GS1 Digital Link URI: {exc}") from None
    values = {}
    for element in parsed.element_strings:
        if element.ai.ai == "01" and element.gtin_error:
            raise InvalidDigitalLink(f"not a valid GS1 Digital Link URI: {element.gtin_error}")
        values[element.ai.ai] = element
    gtin = values.get("01")
    if gtin is None or gtin.gtin is None:
        raise InvalidDigitalLink("a Digital Link for this resolver starts with /01/{GTIN}")
    return ItemPath(gtin=gtin.gtin.as_gtin_14(),
                    cpv=values["22"].value if "22" in values else None,
                    lot=values["10"].value if "10" in values else None,
                    serial=values["21"].value if "21" in values else None)


def normalise_link_type(value: str) -> str:
    value = value.strip()
    if value.startswith("gs1:"):
        return value[4:]
    if value.startswith(GS1_VOC):
        return value[len(GS1_VOC):]
    return value


@dataclass(frozen=True)
class Link:
    link_type: str  # GS1 vocabulary term without prefix, e.g. "defaultLink"
    href: str
    title: str
    media_type: str
    hreflang: tuple[str, ...] = ()

    def to_json(self) -> dict:
        body = {"href": self.href, "title": self.title, "type": self.media_type}
        if self.hreflang:
            body["hreflang"] = list(self.hreflang)
        return body


def links_for(base: str, item: ItemPath) -> list[Link]:
    """The links this resolver has for an item. The first is the default link."""
    page = f"{base}/v{item.path()}"
    links = [Link("defaultLink", page,
                  "Xác minh tem / Verify this stamp" if item.serial else
                  "Thông tin sản phẩm / Product information",
                  "text/html", ("vi", "en"))]
    if item.serial:
        links.append(Link("verificationService", f"{base}/api/v1/verification{item.path()}",
                          "Kết quả xác minh (JSON) / Verification result (JSON)",
                          "application/json"))
    links.append(Link("pip", page, "Thông tin sản phẩm / Product information", "text/html",
                      ("vi", "en")))
    return links


def linkset(anchor: str, links: list[Link]) -> dict:
    """RFC 9264 JSON linkset, link relation types as GS1 Web vocabulary URIs."""
    entry: dict = {"anchor": anchor}
    for link in links:
        entry.setdefault(GS1_VOC + link.link_type, []).append(link.to_json())
    return {"linkset": [entry]}


def resolver_description(base: str) -> dict:
    return {
        "name": "scanapp GS1-Conformant resolver",
        "resolverRoot": base,
        "supportedPrimaryKeys": ["gtin"],
        "supportedQualifiers": ["22", "10", "21"],
        "linkTypeDefaultCanBeLinkset": False,
        "supportedLinkType": [
            {"namespace": GS1_VOC, "prefix": "gs1:", "profile": GS1_VOC + term}
            for term in ("defaultLink", "verificationService", "pip")],
        "linksetMediaType": LINKSET_TYPE,
        "contact": "see /api/docs",
    }
