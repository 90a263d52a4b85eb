"""GS1-Conformant resolver (GS1-Conformant Resolver 1.2) for GTIN Digital Links.

What an answer is made of (decisions in docs/SCAN.md, "The resolver"):

- **Levels.** A stamp URI ``/01/{gtin}/10/{lot}/21/{serial}`` names an item, its lot and its
  product. Each level scanapp knows is one linkset entry (anchor = that level's URI,
  ``itemDescription``, links); the most specific first. A level scanapp does not know is
  walked up: an unknown serial of a known lot resolves to the lot, an unknown lot to the
  product, and the answer says so (``Walked-Up`` and ``Resolved-Anchor`` headers).
- **Links.** Exactly one ``gs1:defaultLink`` per level, with a title and nothing else (the
  standard forbids its optional attributes). Every other link type comes as one link object
  per language, Vietnamese and English, each with ``hreflang`` and a title in that language:
  that is how GS1's linkset schema carries titles in several languages (it admits no
  ``title*``). Product: pip, certificationInfo; lot: traceability, epcis,
  certificationInfo, recallStatus; item: verificationService.
- **Anti-counterfeit meaning kept.** A browser opening a stamp URI gets the verification
  page for *that* serial (it judges an unknown serial counterfeit), and
  ``linkType=gs1:verificationService`` on a serial URI always leads to the verification of
  that serial, known or not: walking up from a forged serial must never look like an answer
  about a genuine one.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from flask import Flask

from ..errors import NotFound
from ..serials.stamps import StampRef
from . import service
from .catalog import LotFacts, ProductInfo, traceability_installed
from .digital_link import DigitalLink, InvalidDigitalLink, parse

GS1_VOC = "https://gs1.org/voc/"
# Link types may be written as CURIEs (gs1:pip) or in any of these namespaces.
VOC_NAMESPACES = ("https://gs1.org/voc/", "https://ref.gs1.org/voc/",
                  "https://www.gs1.org/voc/", "http://gs1.org/voc/")
LINKSET_TYPE = "application/linkset+json"
# GS1's published JSON-LD context for resolver linksets (GS1-Conformant Resolver artefacts).
JSONLD_CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"
LANGS = ("vi", "en")

# Compatibility name: the stamp page (scan/pages.py) types its item with it.
ItemPath = DigitalLink
__all__ = ["InvalidDigitalLink", "ItemPath", "parse_item_path"]


class LinkTypeNotFound(NotFound):
    code = "link_type_not_found"


def parse_item_path(path: str, query: str = "") -> DigitalLink:
    return parse(path, query)


def normalise_link_type(value: str) -> str:
    """``gs1:pip``, ``https://gs1.org/voc/pip``, ``https://ref.gs1.org/voc/pip`` -> ``pip``."""
    value = value.strip()
    if value.startswith("gs1:"):
        return value[4:]
    for namespace in VOC_NAMESPACES:
        if value.startswith(namespace):
            return value[len(namespace):]
    return value


@dataclass(frozen=True)
class Link:
    link_type: str  # GS1 Web vocabulary term without prefix, e.g. "pip"
    href: str
    title: str
    media_type: str | None = None
    hreflang: tuple[str, ...] = ()

    def to_json(self) -> dict:
        body: dict = {"href": self.href, "title": self.title}
        if self.media_type:
            body["type"] = self.media_type
        if self.hreflang:
            body["hreflang"] = list(self.hreflang)
        return body


@dataclass(frozen=True)
class Level:
    name: str  # "item" | "lot" | "product"
    anchor: str
    description: str
    links: tuple[Link, ...]

    def entry(self) -> dict:
        entry: dict = {"anchor": self.anchor, "itemDescription": self.description}
        for link in self.links:
            entry.setdefault(GS1_VOC + link.link_type, []).append(link.to_json())
        return entry


@dataclass(frozen=True)
class Resolution:
    item: DigitalLink
    product: ProductInfo
    levels: tuple[Level, ...]  # most specific first, ends with the product
    walked_up: str | None  # why the answer is about a less specific level, if it is
    verification: tuple[Link, ...]  # the serial's verification, kept even when walked up

    @property
    def anchor(self) -> str:
        return self.levels[0].anchor

    def default_link(self) -> Link:
        return next(link for link in self.levels[0].links if link.link_type == "defaultLink")

    def linkset(self) -> dict:
        return {"linkset": [level.entry() for level in self.levels]}

    def find(self, link_type: str, languages: list[str], media_types: list[str]
             ) -> Link | None:
        """The link of that type at the most specific level that has one; among several,
        the one matching the client's media types, then its languages, then the first."""
        candidates = [list(self.verification)] if (
            link_type == "verificationService" and self.verification) else [
            [link for link in level.links if link.link_type == link_type]
            for level in self.levels]
        for found in candidates:
            if not found:
                continue
            typed = [link for link in found if link.media_type in media_types]
            found = typed or found
            for language in languages:
                for link in found:
                    if language in link.hreflang:
                        return link
            return found[0]
        return None


def _pair(link_type: str, href: str, vi: str, en: str, media_type: str | None,
          localised: bool = False) -> tuple[Link, Link]:
    """The same link in Vietnamese and English (the page takes ?lang=; data does not)."""
    sep = "&" if "?" in href else "?"
    return (Link(link_type, href + (f"{sep}lang=vi" if localised else ""), vi, media_type,
                 ("vi",)),
            Link(link_type, href + (f"{sep}lang=en" if localised else ""), en, media_type,
                 ("en",)))


def _product_level(base: str, gtin: str, product: ProductInfo, traced_installed: bool
                   ) -> Level:
    page = f"{base}/v/01/{gtin}"
    links = [Link("defaultLink", page, "Thông tin sản phẩm / Product information"),
             *_pair("pip", page, f"Thông tin sản phẩm: {product.name}",
                    f"Product information: {product.name_en or product.name}", "text/html",
                    localised=True)]
    if traced_installed:
        links += _pair("certificationInfo",
                       f"{base}/api/v1/trace/public/products/{gtin}/certificates",
                       "Chứng nhận của sản phẩm (VietGAP, OCOP, hữu cơ...)",
                       "Product certificates (VietGAP, OCOP, organic...)", "application/json")
    description = product.name if not product.name_en else f"{product.name} ({product.name_en})"
    return Level("product", base + f"/01/{gtin}", description, tuple(links))


def _lot_level(base: str, gtin: str, lot: str, product: ProductInfo, traced: bool) -> Level:
    path = f"/01/{gtin}/10/{quote(lot, safe='')}"
    links = [Link("defaultLink", f"{base}/v{path}", "Thông tin lô hàng / Lot information")]
    if traced:
        trace = f"{base}/api/v1/trace/public/lots/{gtin}/{quote(lot, safe='')}"
        links += [
            *_pair("traceability", trace, "Truy xuất nguồn gốc lô hàng (các công đoạn)",
                   "Traceability of this lot (its stages)", None),
            *_pair("epcis", f"{base}/epcis/events?MATCH_epcClass="
                   + quote(f"https://id.gs1.org{path}", safe=""),
                   "Sự kiện EPCIS của lô hàng", "EPCIS events of this lot", "application/json"),
            *_pair("certificationInfo", trace + "/certificates", "Chứng nhận của lô hàng",
                   "Certificates of this lot", "application/json"),
            *_pair("recallStatus", trace + "/recall", "Tình trạng thu hồi của lô hàng",
                   "Recall status of this lot", "application/json"),
        ]
    return Level("lot", base + path, f"{product.name}, lô/lot {lot}", tuple(links))


def _item_level(base: str, item: DigitalLink, product: ProductInfo) -> Level:
    links = (Link("defaultLink", f"{base}/v{item.path()}", "Xác minh tem / Verify this stamp"),
             *_verification(base, item))
    lot = f", lô/lot {item.lot}" if item.lot else ""
    return Level("item", base + item.path(),
                 f"{product.name}{lot}, tem/stamp {item.serial}", links)


def _verification(base: str, item: DigitalLink) -> tuple[Link, Link]:
    return _pair("verificationService", f"{base}/api/v1/verification{item.path()}",
                 "Kết quả xác minh tem (JSON)", "Stamp verification result (JSON)",
                 "application/json")


def resolve_item(app: Flask, base: str, item: DigitalLink) -> Resolution:
    """Look up what scanapp knows of a (syntactically valid) item and resolve it.
    Unknown GTIN: 404 ``unknown_gtin`` (there is nothing further up to walk to)."""
    catalog = service.components(app).catalog
    product = catalog.by_gtin(item.gtin)
    if product is None:
        raise NotFound(f"no product with GTIN {item.gtin} is registered here",
                       code="unknown_gtin")
    # Signature and range are checked in process: no database work for the serial.
    serial_known = bool(item.serial) and service.identify(
        app, StampRef(item.gtin, item.serial, item.lot, None)).genuine
    lot = catalog.lot_facts(item.gtin, item.lot) if item.lot else None
    return resolve(base, item, product, serial_known=serial_known, lot=lot,
                   traced_installed=traceability_installed())


def resolve(base: str, item: DigitalLink, product: ProductInfo, *, serial_known: bool,
            lot: LotFacts | None, traced_installed: bool) -> Resolution:
    """The levels scanapp knows for ``item``, most specific first (walk-up included)."""
    levels = [_product_level(base, item.gtin, product, traced_installed)]
    walked_up = None
    lot_known = lot is not None and lot.known
    if item.lot is not None:
        if lot_known:
            levels.insert(0, _lot_level(base, item.gtin, item.lot, product, lot.traced))
        else:
            walked_up = "unknown lot"
    if item.serial is not None:
        if serial_known and (item.lot is None or lot_known):
            levels.insert(0, _item_level(base, item, product))
        elif walked_up is None:
            walked_up = "unknown serial"
    if item.cpv is not None or item.tpx is not None:
        # scanapp keeps no consumer product variants or third-party serials: walk up.
        walked_up = walked_up or ("unknown consumer product variant" if item.cpv is not None
                                  else "unknown third-party serial")
        levels = [level for level in levels if level.name == "product"]
    verification = _verification(base, item) if item.serial is not None else ()
    return Resolution(item, product, tuple(levels), walked_up, verification)


def resolver_description(base: str) -> dict:
    """/.well-known/gs1resolver (GS1-Conformant Resolver 1.2, resolver description file)."""
    return {
        "name": "scanapp — tem truy xuất nguồn gốc / traceability stamps",
        "resolverRoot": base,
        "supportedPrimaryKeys": ["01"],
        "supportedLinkType": [{"namespace": GS1_VOC, "prefix": "gs1:"}],
        "linkTypeDefaultCanBeLinkset": False,
        "jsonLdContextLocation": JSONLD_CONTEXT,
        "contact": {"fn": "scanapp", "hasURL": f"{base}/api/docs"},
    }
