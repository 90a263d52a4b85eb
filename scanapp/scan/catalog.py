"""In-process cache of what rarely changes: product and brand text for the scan path.

A product's name or market regions change a few times a year; reading them per scan would
be a database round trip on the hot path for nothing. Entries live ``TTL_S`` seconds, so an
edit shows within a minute; unknown GTINs are remembered briefly so a flood of scans of a
made-up GTIN cannot turn into a flood of queries.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ..auth.models import Organisation
from ..db import Base
from ..products.models import Product
from ..serials.models import SerialRange

TTL_S = 60.0
MISS_TTL_S = 5.0


@dataclass(frozen=True)
class ProductInfo:
    id: int
    gtin: str
    name: str
    name_en: str | None
    description_vi: str | None
    description_en: str | None
    image_url: str | None
    brand: str
    market_regions: tuple[str, ...]
    fraud_settings: dict = field(default_factory=dict)
    # The brand's consumer hotline (a products column from the trace migration; None before).
    consumer_hotline: str | None = None

    def to_json(self) -> dict:
        return {"gtin": self.gtin, "name": self.name, "name_en": self.name_en,
                "brand": self.brand, "image_url": self.image_url}


@dataclass(frozen=True)
class LotFacts:
    """What the resolver needs to know of a lot to walk up to it or past it."""

    known: bool  # stamps were issued for it, or the traceability records name it
    traced: bool  # the traceability records name it (its trace links lead somewhere)


# The traceability tables belong to scanapp.trace, which this package must not import; its
# lots table is found by name in the shared metadata when that package is installed.
TRACE_LOTS = "trace_lots"


def trace_lots_table():
    return Base.metadata.tables.get(TRACE_LOTS)


# Trace's publication filter (scanapp/trace/publication.py), found by name the same way.
TRACE_WITHHELD = "trace_withheld"


def _withheld(conn, product_id: int) -> bool:
    table = Base.metadata.tables.get(TRACE_WITHHELD)
    if table is None:
        return False
    return conn.execute(select(table.c.subject_id).where(
        table.c.subject_type == "product", table.c.subject_id == product_id)).first() is not None


def traceability_installed() -> bool:
    return trace_lots_table() is not None


class Catalog:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._lock = threading.Lock()
        self._by_gtin: dict[str, tuple[float, ProductInfo | None]] = {}
        self._by_id: dict[int, tuple[float, ProductInfo | None]] = {}
        self._lots: dict[tuple[str, str], tuple[float, LotFacts]] = {}

    def lot_facts(self, gtin14: str, lot: str) -> LotFacts:
        """Cached like products: the resolver asks on every lot or stamp URI it walks."""
        now = time.monotonic()
        hit = self._lots.get((gtin14, lot))
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._engine.connect() as conn:
            issued = conn.execute(select(SerialRange.id).where(
                SerialRange.gtin == gtin14, SerialRange.lot == lot).limit(1)).first()
            traced = None
            table = trace_lots_table()
            if table is not None:
                traced = conn.execute(select(table.c.id).where(
                    table.c.gtin == gtin14, table.c.lot == lot).limit(1)).first()
        facts = LotFacts(known=issued is not None or traced is not None,
                         traced=traced is not None)
        with self._lock:
            if len(self._lots) > 50_000:  # made-up lots must not grow it without bound
                self._lots.clear()
            self._lots[(gtin14, lot)] = (now + (TTL_S if facts.known else MISS_TTL_S), facts)
        return facts

    def by_gtin(self, gtin14: str) -> ProductInfo | None:
        return self._cached(self._by_gtin, gtin14, Product.gtin)

    def by_id(self, product_id: int) -> ProductInfo | None:
        return self._cached(self._by_id, product_id, Product.id)

    def _cached(self, table: dict, key, column) -> ProductInfo | None:
        now = time.monotonic()
        hit = table.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        # The clause is built only on a miss: building it costs more than the dict lookup.
        info = self._load(column == key)
        with self._lock:
            table[key] = (now + (TTL_S if info else MISS_TTL_S), info)
            if info is not None:
                other = self._by_id if table is self._by_gtin else self._by_gtin
                other[info.id if other is self._by_id else info.gtin] = (now + TTL_S, info)
        return info

    def _load(self, where) -> ProductInfo | None:
        # Read with getattr: the column arrives with the trace package's products migration.
        hotline = getattr(Product, "consumer_hotline", None)
        columns = [Product.id, Product.gtin, Product.name, Product.name_en,
                   Product.description_vi, Product.description_en, Product.image_url,
                   Product.market_regions, Product.fraud_settings,
                   Organisation.name.label("brand")]
        if hotline is not None:
            columns.append(hotline.label("consumer_hotline"))
        with self._engine.connect() as conn:
            row = conn.execute(
                select(*columns)
                .join(Organisation, Organisation.id == Product.brand_org_id).where(where)).first()
            withheld = row is not None and _withheld(conn, row.id)
        if row is None:
            return None
        if withheld:
            # Under an authority's review: the stamp page shows the name (printed on the pack
            # anyway) and the brand, not the text and image waiting for approval.
            return ProductInfo(id=row.id, gtin=row.gtin, name=row.name, name_en=None,
                               description_vi=None, description_en=None, image_url=None,
                               brand=row.brand, market_regions=tuple(row.market_regions or ()),
                               fraud_settings=dict(row.fraud_settings or {}))
        return ProductInfo(id=row.id, gtin=row.gtin, name=row.name, name_en=row.name_en,
                           description_vi=row.description_vi,
                           description_en=row.description_en, image_url=row.image_url,
                           brand=row.brand, market_regions=tuple(row.market_regions or ()),
                           fraud_settings=dict(row.fraud_settings or {}),
                           consumer_hotline=getattr(row, "consumer_hotline", None) or None)
