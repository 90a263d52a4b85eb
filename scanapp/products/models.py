"""The product catalogue."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import Organisation
from ..db import Base, UTCDateTime, utcnow


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored as GTIN-14 so that the 8/12/13-digit spellings of one item are one product.
    gtin: Mapped[str] = mapped_column(String(14), unique=True)
    brand_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    description_vi: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(500))
    # Province codes (see scanapp.regions) where the product is meant to be sold.
    market_regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Per-product overrides of the fraud rule thresholds; empty means the defaults.
    fraud_settings: Mapped[dict] = mapped_column(JSON, default=dict)
    # Traceability facts (Circular 02/2024 items 9 and 10; columns added by the trace branch).
    standards: Mapped[list[str]] = mapped_column(JSON, default=list)
    category: Mapped[str | None] = mapped_column(String(100))
    country_of_origin: Mapped[str | None] = mapped_column(String(2))
    unit: Mapped[str | None] = mapped_column(String(20))
    shelf_life_days: Mapped[int | None] = mapped_column(Integer)
    consumer_hotline: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    brand: Mapped[Organisation] = relationship()


class PrinterAuthorisation(Base):
    """A brand lets a printer print its products: all of them, or one when product_id is set."""

    __tablename__ = "printer_authorisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    printer_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    printer: Mapped[Organisation] = relationship(foreign_keys=[printer_org_id])
