"""Evidence: a code's dossier as a printable PDF, with the hash of its content printed on
every page, and the check of a printed copy against scanapp later.

The hash rule (docs/FRAUD.md, "Evidence"): the SHA-256, in hex, of the dossier's canonical
content, not of the PDF bytes. The content is ``content(...)``: the dossier's facts (code,
product, brand, range, printer, lifecycle, signal ids, every listed scan, the case with its
full audit trail, the field inspections with the SHA-256 of each photo), times in UTC to
the second (``2026-11-29T21:05:00Z``), coordinates to 6 decimals, serialised as JSON with
sorted keys, no spaces (``separators=(",", ":")``), UTF-8 without escaping (NFC text as
stored). Words (Vietnamese labels, signal explanations) are not in the content: they are
the same facts said differently. The PDF is drawn from that content only, so what is
printed is what is hashed.

Issuing a PDF stores a row in ``fraud_evidence_issues`` (the content hash, the SHA-256 of
the PDF file, the content itself, who, when). Issuing is not written to the case's audit
trail: that would change the content, and so the hash, of the copy just printed.

Verifying a hash (or a PDF file) answers one of three things:

- ``match``: scanapp issued a copy with this hash and the dossier's content today hashes
  the same;
- ``changed``: scanapp issued it (when, by whom), but the dossier changed since: the copy is
  still authentic evidence of the dossier as it was then, the page lists what changed
  (new scans, audit entries, inspections, status) from the stored content;
- ``unknown``: no copy with this hash was ever issued (altered, or mistyped): refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.service import Principal
from ..errors import InvalidInput
from ..pdf_fonts import add_fonts
from ..regions import PROVINCES
from .dossier import build_dossier, signal_info
from .evidence_text import TEXT
from .flags import inspection_photos, org_names
from .models import EvidenceIssue, InspectionPhoto

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CONTENT_VERSION = 1
HASH_RE = re.compile(r"^[0-9a-f]{64}$")
# Written into the PDF's metadata (keywords), so an uploaded copy that was saved again by
# some viewer still names the content it claims to be.
PDF_MARKER = "scanapp-content-sha256:"
_MARKER_RE = re.compile(rb"scanapp-content-sha256:([0-9a-f]{64})")
MAX_PDF_BYTES = 20 * 1024 * 1024
THUMB_MM = 38


class InvalidHash(InvalidInput):
    code = "invalid_hash"


# -- the canonical content ------------------------------------------------------------------


def _ts(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _coord(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def content(session: Session, principal: Principal, serial: str) -> dict:
    """The dossier's canonical content (see the module's docstring): what is hashed and
    what the PDF prints."""
    d = build_dossier(session, principal, serial)
    photos = inspection_photos(session, [i["id"] for i in d["inspections"]])
    product = d["product"]
    rng = d["range"]
    case = d["case"]
    return {
        "kind": "scanapp.code_dossier",
        "version": CONTENT_VERSION,
        "serial": d["serial"],
        "gtin": d["gtin"],
        "genuine": d["genuine"],
        "code_status": d["code_status"],
        "product": None if product is None else {
            "gtin": product["gtin"], "name": product["name"], "name_en": product["name_en"],
            "brand": product["brand"], "market_regions": sorted(product["market_regions"])},
        "range": None if rng is None else {
            "id": rng["id"], "status": rng.get("status"), "lot": rng.get("lot"),
            "expiry": rng["expiry"].isoformat() if rng.get("expiry") else None,
            "quantity": rng.get("quantity"),
            "market_regions": sorted(rng.get("market_regions") or [])},
        "printer": d["printer"]["name"] if d["printer"] else None,
        "lifecycle": [{"at": _ts(s["at"]), "action": s["action"],
                       "from_status": s["from_status"], "to_status": s["to_status"],
                       "code_count": s["code_count"], "reason": s["reason"]}
                      for s in d["lifecycle"]],
        "risk": d["risk"],
        "signals": [s["id"] for s in d["signals"]],
        "scan_count": d["scan_count"],
        "scans": [{"id": s["id"], "at": _ts(s["at"]), "verdict": s["verdict"],
                   "reasons": s["reasons"], "risk": s["risk"], "scan_no": s["scan_no"],
                   "province": s["province"], "lat": _coord(s["lat"]),
                   "lon": _coord(s["lon"]), "source": s["source"]} for s in d["scans"]],
        "case": None if case is None else {
            "flag_id": case["flag_id"], "status": case["status"],
            "assignee": case["assignee"], "risk": case["risk"],
            "raised_at": _ts(case["raised_at"]),
            "trail": [{"at": _ts(e["at"]), "action": e["action"], "by": e["by"],
                       "from_status": e["from_status"], "to_status": e["to_status"],
                       "assignee": e["assignee"], "risk": e["risk"], "note": e["note"]}
                      for e in case["trail"]]},
        "inspections": [{
            "id": i["id"], "at": _ts(i["at"]), "finding": i["finding"],
            "inspector": i["inspector"], "province": i["province"], "lat": _coord(i["lat"]),
            "lon": _coord(i["lon"]), "place": i["place"], "note": i["note"],
            "photos": [{"id": p.id, "sha256": p.sha256, "width": p.width, "height": p.height}
                       for p in photos.get(i["id"], [])]} for i in d["inspections"]],
    }


def canonical_json(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def content_hash(data: dict) -> str:
    return hashlib.sha256(canonical_json(data)).hexdigest()


# -- Vietnamese formats ---------------------------------------------------------------------


def vn_time(value: str | dt.datetime | None) -> str:
    """``dd/mm/yyyy HH:MM`` in Vietnam time (Asia/Ho_Chi_Minh)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M")


def province_name(code: str | None) -> str:
    province = PROVINCES.get(code or "")
    return province.name if province else "—"


def coords(lat: float | None, lon: float | None) -> str:
    return "—" if lat is None or lon is None else f"{lat:.5f}, {lon:.5f}"


# -- the PDF --------------------------------------------------------------------------------


@dataclass
class Issued:
    issue: EvidenceIssue
    pdf: bytes
    content_hash: str


def render_pdf(data: dict, digest: str, *, issued_at: dt.datetime, issuer: str,
               verify_url: str, photos: dict[int, bytes] | None = None,
               font: str | None = None) -> bytes:
    """The dossier ``data`` (``content``) as an A4 PDF in Vietnamese, ``digest`` on every
    page. ``photos``: photo id -> JPEG bytes, drawn as thumbnails under their inspection."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    t = TEXT["vi"]
    footer_hash = t["pdf_hash_footer"].format(hash=digest)

    class Doc(FPDF):
        def footer(self) -> None:
            self.set_y(-13)
            self.set_font("Body", "", 7)
            self.set_text_color(60, 60, 60)
            self.cell(0, 4, footer_hash, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.cell(0, 4, f"{data['serial']} · " + t["pdf_page"].format(
                page=self.page_no(), pages="{nb}"), align="R")
            self.set_text_color(0, 0, 0)

    doc = Doc(orientation="P", unit="mm", format="A4")
    add_fonts(doc, font)
    doc.set_title(f"{t['pdf_title']} {data['serial']}")
    doc.set_author("scanapp")
    doc.set_subject(PDF_MARKER + digest)
    doc.set_keywords(PDF_MARKER + digest)
    doc.set_creation_date(issued_at)
    doc.set_auto_page_break(True, margin=18)
    doc.add_page()
    nl = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}

    def heading(text: str) -> None:
        doc.ln(3)
        doc.set_font("Body", "B", 11)
        doc.multi_cell(0, 6, text, **nl)
        doc.set_font("Body", "", 9)

    def pairs(rows: list[tuple[str, str]]) -> None:
        with doc.table(col_widths=(50, 140), first_row_as_headings=False, line_height=5,
                       borders_layout="HORIZONTAL_LINES") as table:
            for label, value in rows:
                row = table.row()
                row.cell(label)
                row.cell(value)

    doc.set_font("Body", "B", 15)
    doc.multi_cell(0, 8, t["pdf_title"], align="C", **nl)
    doc.set_font("Body", "B", 12)
    doc.multi_cell(0, 7, data["serial"], align="C", **nl)
    doc.set_font("Body", "", 9)
    doc.multi_cell(0, 5, t["pdf_subtitle"].format(at=vn_time(issued_at), org=issuer),
                   align="C", **nl)
    doc.ln(1)
    doc.set_font("Body", "B", 8)
    doc.multi_cell(0, 4, "SHA-256: " + digest, align="C", **nl)
    doc.set_font("Body", "", 8)
    doc.multi_cell(0, 4, t["pdf_hash_rule"].format(url=verify_url), **nl)

    # 1. code and product
    heading(t["pdf_section_code"])
    product, rng = data["product"], data["range"]
    statuses = t["code_statuses"]
    genuine = (t["pdf_genuine_yes"].format(status=statuses.get(data["code_status"] or "",
                                                               data["code_status"] or "—"))
               if data["genuine"] else t["pdf_genuine_no"])
    rows = [(t["pdf_serial"], data["serial"]), (t["pdf_gtin"], data["gtin"] or "—"),
            (t["pdf_genuine"], genuine)]
    if product:
        name = product["name"] + (f" ({product['name_en']})" if product["name_en"] else "")
        rows += [(t["pdf_product"], name), (t["pdf_brand"], product["brand"])]
    if rng:
        rows.append((t["pdf_range"], t["pdf_range_value"].format(
            id=rng["id"], status=statuses.get(rng["status"] or "", rng["status"] or "—"),
            lot=t["pdf_lot"].format(lot=rng["lot"]) if rng["lot"] else "",
            qty=t["pdf_qty"].format(n=rng["quantity"]) if rng["quantity"] else "",
            expiry=t["pdf_expiry"].format(date=dt.date.fromisoformat(
                rng["expiry"]).strftime("%d/%m/%Y")) if rng["expiry"] else "")))
        rows.append((t["pdf_market"], ", ".join(province_name(c) for c in
                                                rng["market_regions"]) or "—"))
    rows += [(t["pdf_printer"], data["printer"] or "—"), (t["pdf_risk"], str(data["risk"])),
             (t["pdf_scan_count"], str(data["scan_count"]))]
    pairs(rows)

    # 2. signals, explained
    heading(t["pdf_section_signals"])
    if not data["signals"]:
        doc.multi_cell(0, 5, t["pdf_no_signals"], **nl)
    for reason in data["signals"]:
        info = signal_info(reason)
        doc.set_font("Body", "B", 9)
        doc.multi_cell(0, 5, "• " + info["title_vi"], **nl)
        doc.set_font("Body", "", 9)
        if info["explanation_vi"]:
            doc.set_x(doc.l_margin + 4)
            doc.multi_cell(0, 4.5, info["explanation_vi"], **nl)

    # 3. scans
    heading(t["pdf_section_scans"].format(n=data["scan_count"]))
    if len(data["scans"]) < data["scan_count"]:
        doc.multi_cell(0, 5, t["pdf_truncated"].format(shown=len(data["scans"]),
                                                       total=data["scan_count"]), **nl)
    if not data["scans"]:
        doc.multi_cell(0, 5, t["pdf_no_scans"], **nl)
    else:
        doc.set_font("Body", "", 8)
        with doc.table(col_widths=(8, 28, 36, 40, 30, 14, 34), line_height=4.5,
                       text_align=("RIGHT", "LEFT", "LEFT", "LEFT", "LEFT", "RIGHT",
                                   "LEFT")) as table:
            header = table.row()
            for text in t["pdf_scan_cols"]:
                header.cell(text)
            for n, s in enumerate(data["scans"], 1):
                row = table.row()
                for text in (str(n), vn_time(s["at"]), province_name(s["province"]),
                             coords(s["lat"], s["lon"]),
                             t["verdicts"].get(s["verdict"], s["verdict"]), str(s["risk"]),
                             t["sources"].get(s["source"] or "", s["source"] or "—")):
                    row.cell(text)
        doc.set_font("Body", "", 9)

    # 4. field inspections, with photo thumbnails
    heading(t["pdf_section_inspections"].format(n=len(data["inspections"])))
    if not data["inspections"]:
        doc.multi_cell(0, 5, t["pdf_no_inspections"], **nl)
    for i in data["inspections"]:
        doc.set_font("Body", "B", 9)
        doc.multi_cell(0, 5, t["pdf_inspection_head"].format(
            at=vn_time(i["at"]), finding=t["findings"].get(i["finding"], i["finding"])), **nl)
        doc.set_font("Body", "", 9)
        pairs([(t["inspector"], i["inspector"] or "—"),
               (t["place_label"].split(" (")[0], i["place"] or "—"),
               (t["province"], province_name(i["province"])),
               (t["coordinates"], coords(i["lat"], i["lon"])),
               (t["note_label"], i["note"] or "—")])
        if i["photos"]:
            doc.set_font("Body", "", 7)
            doc.multi_cell(0, 4, t["pdf_photo_count"].format(
                n=len(i["photos"]), hashes=", ".join(p["sha256"][:16] for p in i["photos"])),
                **nl)
            doc.set_font("Body", "", 9)
            _thumbnails(doc, [p for p in i["photos"] if photos and p["id"] in photos],
                        photos or {})
        doc.ln(2)

    # 5. the case and its audit trail
    heading(t["pdf_section_case"])
    case = data["case"]
    if case is None:
        doc.multi_cell(0, 5, t["pdf_no_case"], **nl)
    else:
        doc.multi_cell(0, 5, t["pdf_case_status"].format(
            status=t["statuses"].get(case["status"], case["status"]),
            assignee=case["assignee"] or "—", risk=case["risk"]), **nl)
        doc.ln(1)
        doc.set_font("Body", "", 8)
        with doc.table(col_widths=(28, 34, 90, 38), line_height=4.5) as table:
            header = table.row()
            for text in t["pdf_trail_cols"]:
                header.cell(text)
            for e in case["trail"]:
                row = table.row()
                row.cell(vn_time(e["at"]))
                row.cell(t["actions"].get(e["action"], e["action"]))
                row.cell(_trail_details(e, t))
                row.cell(e["by"] or "scanapp")
        doc.set_font("Body", "", 9)

    # 6. lifecycle
    if data["lifecycle"]:
        heading(t["pdf_section_lifecycle"])
        for step in data["lifecycle"]:
            doc.multi_cell(0, 5, "• " + t["pdf_lifecycle_line"].format(
                at=vn_time(step["at"]),
                action=t["lifecycle_actions"].get(step["action"], step["action"]),
                status=statuses.get(step["to_status"] or "", step["to_status"] or "—"),
                reason=f" ({step['reason']})" if step["reason"] else ""), **nl)
    return bytes(doc.output())


def _trail_details(e: dict, t: dict) -> str:
    parts = []
    if e["from_status"] or e["to_status"]:
        parts.append(f"{t['statuses'].get(e['from_status'] or '', e['from_status'] or '—')}"
                     f" → {t['statuses'].get(e['to_status'] or '', e['to_status'] or '—')}")
    if e["assignee"]:
        parts.append(f"→ {e['assignee']}")
    if e["risk"] is not None:
        parts.append(f"{t['pdf_risk'].lower()} {e['risk']}")
    if e["note"]:
        note = e["note"]
        if e["action"] in ("raised", "escalated"):
            # The engine's note lists signal ids: say them in Vietnamese.
            note = ", ".join(signal_info(r.strip())["title_vi"] for r in note.split(","))
        elif e["action"] == "inspection":
            # ``flags.record_inspection`` writes "finding: note": the finding in words.
            finding, _sep, rest = note.partition(":")
            if finding in t["findings"]:
                note = t["findings"][finding] + (f":{rest}" if rest else "")
        parts.append(note)
    return "; ".join(parts) or "—"


def _thumbnails(doc, listed: list[dict], photos: dict[int, bytes]) -> None:
    """Photos side by side, ``THUMB_MM`` wide, a new row (or page) when one is full."""
    if not listed:
        return
    x0 = doc.l_margin
    per_row = int((doc.w - doc.l_margin - doc.r_margin) // (THUMB_MM + 3))
    for start in range(0, len(listed), per_row):
        row = listed[start:start + per_row]
        height = max(THUMB_MM * p["height"] / p["width"] for p in row)
        if doc.get_y() + height > doc.h - doc.b_margin:
            doc.add_page()
        y = doc.get_y()
        for n, p in enumerate(row):
            doc.image(io.BytesIO(photos[p["id"]]), x=x0 + n * (THUMB_MM + 3), y=y,
                      w=THUMB_MM)
        doc.set_y(y + height + 2)


# -- issuing and verifying ------------------------------------------------------------------


def issue(session: Session, principal: Principal, serial: str, *, verify_url: str,
          font: str | None = None) -> Issued:
    """Draw the PDF of the dossier as it is now and register the copy."""
    data = content(session, principal, serial)
    digest = content_hash(data)
    issued_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    issuer = org_names(session, [principal.org_id]).get(principal.org_id) or "—"
    photo_ids = [p["id"] for i in data["inspections"] for p in i["photos"]]
    photos = {}
    if photo_ids:
        photos = dict(session.execute(select(InspectionPhoto.id, InspectionPhoto.data)
                                      .where(InspectionPhoto.id.in_(photo_ids))).all())
    pdf = render_pdf(data, digest, issued_at=issued_at, issuer=issuer, verify_url=verify_url,
                     photos=photos, font=font)
    row = EvidenceIssue(serial=data["serial"],
                        flag_id=data["case"]["flag_id"] if data["case"] else None,
                        content_hash=digest, pdf_sha256=hashlib.sha256(pdf).hexdigest(),
                        content=canonical_json(data).decode("utf-8"), issued_at=issued_at,
                        issued_by_org_id=principal.org_id, issued_by_key_id=principal.key_id)
    session.add(row)
    session.commit()
    return Issued(row, pdf, digest)


def issues_of(session: Session, serial: str) -> list[EvidenceIssue]:
    return list(session.scalars(select(EvidenceIssue).where(EvidenceIssue.serial == serial)
                                .order_by(EvidenceIssue.issued_at.desc(),
                                          EvidenceIssue.id.desc())))


@dataclass
class Verification:
    outcome: str  # "match", "changed" or "unknown"
    given_hash: str
    serial: str | None = None
    first: EvidenceIssue | None = None
    last: EvidenceIssue | None = None
    copies: int = 0
    current_hash: str | None = None
    changes: list[tuple[str, dict]] = field(default_factory=list)
    issuers: dict[int, str] = field(default_factory=dict)
    # For an uploaded file: "exact" (byte for byte the issued copy) or "by_hash".
    file: str | None = None


def normalise_hash(text: str) -> str:
    digest = "".join((text or "").split()).lower()
    if digest.startswith("sha-256:") or digest.startswith("sha256:"):
        digest = digest.split(":", 1)[1]
    if not HASH_RE.match(digest):
        raise InvalidHash("a content hash is 64 hexadecimal characters")
    return digest


def verify_hash(session: Session, principal: Principal, text: str) -> Verification:
    digest = normalise_hash(text)
    issued = list(session.scalars(select(EvidenceIssue)
                                  .where(EvidenceIssue.content_hash == digest)
                                  .order_by(EvidenceIssue.issued_at, EvidenceIssue.id)))
    if not issued:
        return Verification("unknown", digest)
    first, last = issued[0], issued[-1]
    now = content(session, principal, first.serial)
    current = content_hash(now)
    result = Verification("match" if current == digest else "changed", digest,
                          serial=first.serial, first=first, last=last, copies=len(issued),
                          current_hash=current,
                          issuers=org_names(session, [r.issued_by_org_id for r in issued]))
    if current != digest:
        result.changes = changes(json.loads(first.content), now)
    return result


def verify_pdf(session: Session, principal: Principal, raw: bytes) -> Verification:
    """An uploaded copy: the exact file scanapp issued, or else the content hash its
    metadata names (a copy saved again by a viewer keeps it); ``not_a_dossier_pdf``
    otherwise."""
    if len(raw) > MAX_PDF_BYTES:
        raise InvalidInput("the file is larger than any dossier PDF", code="payload_too_large")
    file_hash = hashlib.sha256(raw).hexdigest()
    exact = session.scalar(select(EvidenceIssue.content_hash)
                           .where(EvidenceIssue.pdf_sha256 == file_hash).limit(1))
    if exact is not None:
        result = verify_hash(session, principal, exact)
        result.file = "exact"
        return result
    found = _MARKER_RE.search(raw)
    if found is None:
        raise InvalidInput("no scanapp content hash in this file", code="not_a_dossier_pdf")
    result = verify_hash(session, principal, found.group(1).decode())
    result.file = "by_hash"
    return result


def changes(then: dict, now: dict) -> list[tuple[str, dict]]:
    """What changed between the printed content and today's, as text keys with values."""
    found: list[tuple[str, dict]] = []
    old_scans = {s["id"] for s in then.get("scans", [])}
    new_scans = [s for s in now["scans"] if s["id"] not in old_scans]
    if new_scans or now["scan_count"] > then.get("scan_count", 0):
        found.append(("change_scans", {"n": max(len(new_scans),
                                                now["scan_count"] - then.get("scan_count", 0))}))
    old_trail = len((then.get("case") or {}).get("trail", []))
    new_trail = len((now.get("case") or {}).get("trail", []))
    if new_trail > old_trail:
        found.append(("change_trail", {"n": new_trail - old_trail}))
    old_insp = {i["id"] for i in then.get("inspections", [])}
    added = [i for i in now["inspections"] if i["id"] not in old_insp]
    if added:
        found.append(("change_inspections", {"n": len(added)}))
    old_status = (then.get("case") or {}).get("status")
    new_status = (now.get("case") or {}).get("status")
    if old_status != new_status:
        found.append(("change_status", {"old": old_status, "new": new_status}))
    keys = ("product", "range", "printer", "lifecycle", "genuine", "code_status", "gtin")
    if any(then.get(k) != now.get(k) for k in keys) or (
            not found and content_hash(then) != content_hash(now)):
        found.append(("change_other", {}))
    return found
