"""A lot's trace as a sortable spreadsheet (CSV and XLSX), one row per lot and event, with
the key data elements of the US food traceability rule (FSMA 204): traceability lot code,
product, quantity and unit, event type (critical tracking event), date and time, the
location of the event, source and recipient, reference document, the lot code's source.

CSV is UTF-8 with a byte-order mark so that Excel shows Vietnamese correctly; XLSX has a
header row with filters and a frozen pane, so every column sorts and filters.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.service import Principal
from . import codes, lineage, service
from .models import LineageEdge, Lot, LotEvent
from .queries import _require_chain

VN = dt.timezone(dt.timedelta(hours=7))

COLUMNS = (
    "Traceability lot code", "GTIN", "Lot (AI 10)", "Product description", "Lot status",
    "Critical tracking event", "bizStep", "Event date-time (Vietnam)", "Quantity", "Unit",
    "Event location", "Event location GLN", "Event province", "Source party",
    "Source party GLN", "Source location", "Recipient party", "Recipient party GLN",
    "Recipient location", "Reference document", "Input lots", "Lot code source (maker)",
    "Lot code source location", "Production date", "Harvest start", "Harvest end",
    "Expiry date", "Direction", "EPCIS eventID",
)
CTE = {"commissioning": "Harvesting / production", "packing": "Initial packing",
       "shipping": "Shipping", "receiving": "Receiving", "inspecting": "Inspection",
       "holding": "Recall", "transforming": "Transformation"}


def rows(session: Session, principal: Principal, lot_id: int, direction: str = "both"
         ) -> list[list]:
    lot = service.get_lot(session, principal, lot_id)
    _require_chain(session, principal, lot)
    marks: dict[int, str] = {lot.id: "this lot"}
    if direction in ("backward", "both"):
        for other in lineage.ancestors(session, [lot.id]):
            marks[other] = "upstream"
    if direction in ("forward", "both"):
        for other in lineage.descendants(session, [lot.id]):
            marks[other] = "downstream"
    ids = list(marks)
    lots = {x.id: x for x in session.scalars(select(Lot).where(Lot.id.in_(ids)))}
    inputs: dict[str, list[str]] = {}
    for edge in session.scalars(select(LineageEdge).where(LineageEdge.output_lot_id.in_(ids))):
        src = lots.get(edge.input_lot_id) or session.get(Lot, edge.input_lot_id)
        inputs.setdefault(edge.event_id, []).append(f"{src.gtin}/{src.lot}")
    out: list[list] = []
    for event in session.scalars(select(LotEvent).where(LotEvent.lot_id.in_(ids))
                                 .order_by(LotEvent.event_time, LotEvent.id)):
        if event.role == "input":
            continue  # the transformation's output row lists the inputs
        x = lots[event.lot_id]
        step = event.biz_step or ""
        cte = "Transformation" if event.event_type == "TransformationEvent" else CTE.get(step,
                                                                                        step)
        place, maker = event.location, x.party
        src = event.source_party or (event.source_location.party if event.source_location
                                     else None)
        out.append([
            codes.lot_uri(x.gtin, x.lot), x.gtin, x.lot, x.product.name, x.status, cte, step,
            event.event_time.astimezone(VN).strftime("%Y-%m-%d %H:%M"),
            float(event.quantity) if event.quantity is not None else None, event.unit,
            place.name if place else None, place.gln if place else None,
            place.province if place else None,
            src.name if src else None, src.gln if src else None,
            event.source_location.name if event.source_location else None,
            event.dest_party.name if event.dest_party else None,
            event.dest_party.gln if event.dest_party else None,
            event.dest_location.name if event.dest_location else None,
            event.document, "; ".join(sorted(inputs.get(event.event_id, []))) or None,
            maker.name if maker else None, x.location.gln if x.location else None,
            _d(x.production_date), _d(x.harvest_start), _d(x.harvest_end), _d(x.expiry_date),
            marks[x.id], event.event_id,
        ])
    return out


def _d(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def to_csv(table: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows([["" if v is None else v for v in row] for row in table])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(table: list[list], title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(COLUMNS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table:
        sheet.append(row)
    last = get_column_letter(len(COLUMNS))
    sheet.auto_filter.ref = f"A1:{last}{max(len(table) + 1, 1)}"
    sheet.freeze_panes = "A2"
    for i, name in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(12, min(40, len(name) + 2))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_file(session: Session, principal: Principal, lot_id: int, direction: str,
                fmt: str) -> tuple[bytes, str, str]:
    """(body, media type, file name) of a lot's trace spreadsheet: the API's export and the
    inspectors' workspace download the same file."""
    table = rows(session, principal, lot_id, direction)
    name = f"trace-lot-{lot_id}"
    if fmt == "xlsx":
        return to_xlsx(table, name), XLSX, f"{name}.xlsx"
    return to_csv(table), "text/csv; charset=utf-8", f"{name}.csv"
