"""File a consumer report and list reports for inspectors.

A report is checked whole (every field's problem listed at once, so the form can show them
all and keep what was typed), then stored in one transaction with the scan it follows:
the same device's (or, without a device id, the same address's) latest scan of the code in
the last day gives the report its place and time.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import InvalidInput, NotFound
from ..scan.models import ScanEvent
from ..scan.page_text import OUTCOMES
from ..scan.privacy import Hasher
from ..serials.stamps import StampRef
from .models import PROBLEMS, STATUSES, ConsumerReport
from .photos import Photo, PhotoRejected, clean_photo

LIMITS = {"details": 2000, "where_bought": 300, "phone": 20, "code": 512}
SCAN_LOOKBACK = dt.timedelta(days=1)
# Markup is never needed to describe a fake: refusing it says so clearly (and everything
# is escaped on output anyway). Catches <script>, <img onerror=...>, <!-- and </tags>.
_MARKUP = re.compile(r"<\s*[/!?]?\s*[A-Za-z]")
_PHONE = re.compile(r"^\+?[0-9][0-9 .\-]{7,18}[0-9]$")

MESSAGES = {
    "vi": {"too_long": "Quá dài: tối đa {n} ký tự.",
           "markup": "Vui lòng không nhập mã HTML hay thẻ dạng <...>.",
           "phone": "Số điện thoại không hợp lệ (ví dụ 0912 345 678).",
           "problem": "Vui lòng chọn một vấn đề trong danh sách.",
           "photo_type": "Tệp đã chọn không phải là ảnh (JPEG, PNG, WebP).",
           "photo_too_large": "Ảnh lớn hơn 8 MB hoặc quá nhiều điểm ảnh. Hãy chọn ảnh nhỏ "
                              "hơn hoặc gửi không kèm ảnh.",
           "required": "Thiếu thông tin bắt buộc."},
    "en": {"too_long": "Too long: at most {n} characters.",
           "markup": "Please do not type HTML or <...> tags.",
           "phone": "Not a valid phone number (e.g. 0912 345 678).",
           "problem": "Please choose one of the listed problems.",
           "photo_type": "The chosen file is not a photo (JPEG, PNG, WebP).",
           "photo_too_large": "The photo is larger than 8 MB or has too many pixels. Choose "
                              "a smaller one or send without.",
           "required": "Required."},
}


class ReportInvalid(InvalidInput):
    """Every field's problem at once, as codes the page words in the reader's language."""

    code = "invalid_report"

    def __init__(self, problems: dict[str, tuple[str, dict]]):
        self.problems = problems
        super().__init__("the report was not filed: " + ", ".join(problems),
                         details={field: [MESSAGES["en"][code].format(**params)]
                                  for field, (code, params) in problems.items()})

    def messages(self, lang: str) -> dict[str, str]:
        table = MESSAGES.get(lang, MESSAGES["vi"])
        return {field: table[code].format(**params)
                for field, (code, params) in self.problems.items()}


@dataclass(frozen=True)
class ReportIn:
    code: str
    outcome: str
    problem: str
    details: str | None
    where_bought: str | None
    phone: str | None
    device_id: str | None
    lang: str


def _clean_text(value) -> str | None:
    if not isinstance(value, str):
        return None
    # Control characters (other than line breaks) have no place in a report.
    value = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    value = unicodedata.normalize("NFC", value).strip()
    return value or None


def read_input(form) -> tuple[ReportIn, dict[str, tuple[str, dict]]]:
    """The form's fields, cleaned, and the problems found (empty when all is well)."""
    problems: dict[str, tuple[str, dict]] = {}
    values = {name: _clean_text(form.get(name)) for name in
              ("code", "outcome", "problem", "details", "where_bought", "phone", "device_id",
               "lang")}
    for name, limit in LIMITS.items():
        if values[name] and len(values[name]) > limit:
            problems[name] = ("too_long", {"n": limit})
    for name in ("details", "where_bought"):
        if name not in problems and values[name] and _MARKUP.search(values[name]):
            problems[name] = ("markup", {})
    if values["phone"] and "phone" not in problems and not _PHONE.match(values["phone"]):
        problems["phone"] = ("phone", {})
    if values["problem"] not in PROBLEMS:
        problems["problem"] = ("problem", {})
    outcome = values["outcome"] if values["outcome"] in OUTCOMES else "genuine"
    device = values["device_id"] if values["device_id"] and len(values["device_id"]) <= 128 \
        else None
    return ReportIn(code=(values["code"] or "")[:LIMITS["code"]], outcome=outcome,
                    problem=values["problem"] or "other", details=values["details"],
                    where_bought=values["where_bought"], phone=values["phone"],
                    device_id=device, lang=values["lang"] if values["lang"] in ("vi", "en")
                    else "vi"), problems


def _parse_code(code: str) -> StampRef | None:
    from ..scan.uri import parse_scanned

    try:
        return parse_scanned(code) if code else None
    except Exception:  # noqa: BLE001 - a malformed code is a reason to report, not an error
        return None


def _gtin_only(code: str) -> str | None:
    found = re.search(r"/01/([0-9]{14})(?:/|$|\?)", code)
    return found.group(1) if found else None


def file_report(session: Session, hasher: Hasher, data: ReportIn,
                problems: dict[str, tuple[str, dict]], photo_bytes: bytes | None,
                client_address: str | None, user_agent: str = "") -> ConsumerReport:
    photo: Photo | None = None
    if photo_bytes:
        try:
            photo = clean_photo(photo_bytes)
        except PhotoRejected as exc:
            problems = {**problems, "photo": (
                "photo_too_large" if exc.code == "photo_too_large" else "photo_type", {})}
    if problems:
        raise ReportInvalid(problems)
    address = client_address or ""
    device_hash = hasher.device(data.device_id) if data.device_id else \
        hasher.anonymous_device(address, user_agent)
    client_hash = hasher.client(address) if address else None
    ref = _parse_code(data.code)
    report = ConsumerReport(
        code=data.code, gtin=ref.gtin if ref else _gtin_only(data.code),
        lot=ref.lot if ref else None, serial=ref.serial if ref else None,
        outcome=data.outcome, problem=data.problem, details=data.details,
        where_bought=data.where_bought, phone=data.phone, device_hash=device_hash,
        client_hash=client_hash, lang=data.lang, status="new", reasons=[])
    if ref is not None:
        scan = _scan_followed(session, ref.serial, device_hash, client_hash)
        if scan is not None:
            report.scan_id, report.scanned_at = scan.id, scan.scanned_at
            report.province, report.lat, report.lon = scan.province, scan.lat, scan.lon
            report.verdict, report.reasons = scan.verdict, list(scan.reasons or [])
    if photo is not None:
        report.photo, report.photo_type = photo.data, photo.content_type
        report.photo_width, report.photo_height = photo.width, photo.height
    session.add(report)
    session.commit()
    return report


def _scan_followed(session: Session, serial: str, device_hash: str,
                   client_hash: str | None) -> ScanEvent | None:
    since = utcnow() - SCAN_LOOKBACK
    for column, value in ((ScanEvent.device_hash, device_hash),
                          (ScanEvent.client_hash, client_hash)):
        if value is None:
            continue
        found = session.scalars(
            select(ScanEvent).where(ScanEvent.serial == serial, column == value,
                                    ScanEvent.scanned_at >= since)
            .order_by(ScanEvent.scanned_at.desc()).limit(1)).first()
        if found is not None:
            return found
    return None


def list_reports(session: Session, *, province: str | None = None, status: str | None = None,
                 gtin: str | None = None, since: dt.datetime | None = None, page: int = 1,
                 per_page: int = 50, serial: str | None = None) -> dict:
    query = select(ConsumerReport)
    if serial:
        query = query.where(ConsumerReport.serial == serial)
    if province:
        query = query.where(ConsumerReport.province == province)
    if status:
        if status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
        query = query.where(ConsumerReport.status == status)
    if gtin:
        query = query.where(ConsumerReport.gtin == gtin)
    if since:
        query = query.where(ConsumerReport.created_at >= since)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(query.order_by(ConsumerReport.created_at.desc(),
                                           ConsumerReport.id.desc())
                            .offset((page - 1) * per_page).limit(per_page)).all()
    return {"items": items, "total": total, "page": page, "per_page": per_page}


def get_report(session: Session, report_id: int) -> ConsumerReport:
    report = session.get(ConsumerReport, report_id)
    if report is None:
        raise NotFound(f"no report {report_id}", code="report_not_found")
    return report


def count_by_serial(session: Session, serials) -> dict[str, int]:
    """How many reports name each of these serials (one query)."""
    serials = sorted({s for s in serials if s})
    if not serials:
        return {}
    return dict(session.execute(select(ConsumerReport.serial, func.count())
                                .where(ConsumerReport.serial.in_(serials))
                                .group_by(ConsumerReport.serial)).all())


def count_new(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ConsumerReport)
                          .where(ConsumerReport.status == "new")) or 0
