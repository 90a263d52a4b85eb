"""The consumer's stamp page: one page per outcome, HTML for phones and JSON for API clients.

Decisions (docs/SCAN.md, "The stamp page"):
- The first GET records nothing (GS1 resolver rule: a GET is safe) but already shows the
  verdict: the code's standing read without writing (signature, lifecycle, the fraud rules
  over its history as it stands). On Slow 3G every request costs a 2 s round trip, so the
  verdict must arrive in the first response, not after a script and a POST.
- The scan is then recorded by a small inline script (no second file to fetch): it waits
  at most 1.5 s for a location fix and POSTs to the same URL, which answers the verdict as
  an HTML fragment rendered here, so there is one set of words and one date format, on the
  server. With JavaScript off a button POSTs the same form and gets the whole page.
- Errors on these routes (malformed link, unknown product, too many requests, an outage)
  are pages too when a browser asks for HTML; other clients keep the JSON error shape.
- A counterfeit page shows no product, brand or lot as fact, nor in its title.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from zoneinfo import ZoneInfo

from flask import current_app, jsonify, make_response, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from ..db import get_session, utcnow
from ..errors import (
    DomainError,
    InvalidInput,
    NotFound,
    RateLimited,
    error_response,
    http_exception_response,
    status_for,
)
from ..regions import PROVINCES
from ..risk.rules import RULES_BY_ID
from ..serials.stamps import StampRef
from . import service
from .catalog import ProductInfo
from .page_text import OUTCOMES, TEXT
from .resolver import InvalidDigitalLink, ItemPath

log = logging.getLogger(__name__)

LANGS = ("vi", "en")
LANG_COOKIE = "scan_lang"
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
             "Dec")
FRAGMENT_HEADER = "X-Scan-Fragment"


# -- language and time ------------------------------------------------------------------------

def choose_lang() -> str:
    """The ``lang`` query parameter (the toggle), then the toggle's cookie, then the
    browser's languages; Vietnamese by default."""
    asked = request.args.get("lang")
    if asked in LANGS:
        return asked
    remembered = request.cookies.get(LANG_COOKIE)
    if remembered in LANGS:
        return remembered
    return request.accept_languages.best_match(LANGS, default="vi") or "vi"


def _as_vn(value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(VN_TZ)


def format_date(value, lang: str) -> str:
    """``29/11/2026`` in Vietnamese; ``29 Nov 2026`` in English (no day/month ambiguity)."""
    if value is None:
        return ""
    if isinstance(value, str) and "T" in value:
        value = _as_vn(value) or value  # a moment: its date in Vietnam, not in UTC
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        value = _as_vn(value).date()
    if lang == "vi":
        return f"{value.day:02d}/{value.month:02d}/{value.year}"
    return f"{value.day} {EN_MONTHS[value.month - 1]} {value.year}"


def format_datetime(value, lang: str) -> str:
    """Vietnam time: ``29/11/2026 lúc 23:59`` / ``29 Nov 2026 at 23:59``."""
    local = _as_vn(value)
    if local is None:
        return ""
    joiner = "lúc" if lang == "vi" else "at"
    return f"{format_date(local.date(), lang)} {joiner} {local:%H:%M}"


def _ago(value, lang: str, now: dt.datetime) -> str:
    at = _as_vn(value)
    if at is None:
        return ""
    minutes = max(0, int((now - at).total_seconds() // 60))
    units = TEXT[lang]["units"]
    if minutes < 60:
        text = units["minute"].format(n=max(minutes, 1))
    elif minutes < 48 * 60:
        text = units["hour"].format(n=minutes // 60)
    else:
        text = units["day"].format(n=minutes // (24 * 60))
    return TEXT[lang]["ago"].format(ago=text)


# -- outcome ----------------------------------------------------------------------------------

def outcome_of(result: dict) -> str:
    """The page's outcome for a scan answer (``ScanResult.to_json``)."""
    verdict = result["verdict"]
    if verdict in ("counterfeit", "recalled", "voided", "not_activated", "suspicious"):
        return verdict
    if result.get("expired"):
        return "expired"
    count = result.get("scan_count") or 0
    recorded = result.get("_recorded", False)
    # Recorded: this scan is counted, so "before" means more than one. Read-only: any.
    if count > (1 if recorded else 0):
        return "repeat"
    return "genuine"


def _place_text(place: dict | None, lang: str, template: str, now: dt.datetime) -> str | None:
    if not place:
        return None
    text = TEXT[lang]
    name = place.get("province_name") if lang == "vi" else place.get("province_name_en")
    where = text["where"].format(province=name) if name else ""
    return text[template].format(at=format_datetime(place.get("at"), lang), where=where) \
        .rstrip(".") + _ago(place.get("at"), lang, now) + "."


def explain(result: dict, outcome: str, lang: str, recall: dict | None) -> list[str]:
    """Why, in plain words, from the reasons the scan has: signals that fired, where and when
    the code was checked before, on how many phones, the recall and the expiry."""
    text = TEXT[lang]
    now = utcnow().astimezone(VN_TZ)
    lines: list[str] = []
    if outcome == "counterfeit":
        for reason in result.get("reasons", []):
            line = text["counterfeit_why"].get(reason)
            if line:
                lines.append(line)
        return lines
    if outcome == "recalled" and recall:
        when = text["recall_when"].format(date=format_date(recall.get("at"), lang)) \
            if recall.get("at") else ""
        lines.append(text["recall_by"].format(by=recall.get("by") or "?", when=when))
        if recall.get("reason"):
            lines.append(text["recall_reason"].format(reason=recall["reason"].rstrip(".")))
    for reason in dict.fromkeys(result.get("reasons", [])):  # once each, in order
        rule = RULES_BY_ID.get(reason)
        # The recall rule's words are for inspectors ("still being sold"); the page's
        # summary and banner already say the lot is recalled.
        if rule is None or reason == "recalled":
            continue
        lines.append(rule.explanation_vi if lang == "vi" else rule.explanation_en)
    if outcome == "expired" and result.get("expiry"):
        expiry = dt.date.fromisoformat(result["expiry"])
        lines.append(text["expired_on"].format(date=format_date(expiry, lang),
                                               days=(now.date() - expiry).days))
    count = result.get("scan_count")
    if count is not None:
        recorded = result.get("_recorded", False)
        if count == 0:
            lines.append(text["scans_none"])
        elif count == 1 and recorded:
            lines.append(text["scans_one"])
        else:
            lines.append(text["scans"].format(n=count, d=result.get("device_count") or 1))
        first = result.get("first_scan")
        last = result.get("last_scan")
        if first and not (recorded and count == 1):
            lines.append(_place_text(first, lang, "first_scan", now))
        if last and (not first or last.get("at") != first.get("at")):
            lines.append(_place_text(last, lang, "last_scan", now))
    if result.get("repeat"):
        lines.append(text["reload"])
    if result.get("degraded"):
        lines.append(text["degraded"])
    return [line for line in lines if line]


# -- the recall, the product card and its trace data -------------------------------------------

def recall_of(result: service.ScanResult, trace: dict | None) -> dict | None:
    """Who recalled the code's lot, when and why: the trace data's recall when the lot has
    one, else the range's recall step in the serials audit trail."""
    if trace and trace.get("recall"):
        found = trace["recall"]
        return {"by": found.get("by"), "at": found.get("recalled_at"),
                "reason": found.get("reason")}
    if result.verdict != "recalled" or result.identified.range is None:
        return None
    from ..auth.models import Organisation
    from ..serials.models import RangeTransition

    rows = get_session().execute(
        select(RangeTransition.at, RangeTransition.reason, RangeTransition.serials,
               Organisation.name)
        .join(Organisation, Organisation.id == RangeTransition.actor_org_id)
        .where(RangeTransition.range_id == result.identified.range.id,
               RangeTransition.action == "recall")
        .order_by(RangeTransition.at.desc())).all()
    serial = result.identified.ref.serial
    for row in rows:
        if not row.serials or serial in row.serials:
            return {"by": row.name, "at": row.at, "reason": row.reason}
    return None


def lot_trace(gtin: str, lot: str | None) -> dict | None:
    """The lot's Circular 02/2024 document from the provider scanapp.trace registered on the
    app (the composition root passes it in; this package does not import trace), when the lot
    has trace data; never fails the page."""
    view = current_app.extensions.get("scanapp.trace.lot_view")
    if not lot or view is None:
        return None
    try:
        return view(get_session(), gtin, lot)
    except Exception:  # noqa: BLE001 - the verdict matters more than the journey
        log.exception("trace data for %s/%s failed; page shown without it", gtin, lot)
        return None


def _cert_status(cert: dict, today: dt.date) -> str:
    """Judged against today's date here, whatever the stored status says."""
    try:
        if cert.get("valid_to") and dt.date.fromisoformat(cert["valid_to"][:10]) < today:
            return "expired"
        if cert.get("valid_from") and dt.date.fromisoformat(cert["valid_from"][:10]) > today:
            return "pending"
    except ValueError:
        return "valid"
    return "expired" if cert.get("status") in ("expired", "revoked") else "valid"


def _pick(doc: dict | None, *keys):
    for key in keys:
        if doc and doc.get(key) not in (None, "", [], {}):
            return doc[key]
    return None


class Code(str):
    """A card value that is a code, not words: it may wrap anywhere on a narrow screen."""


def _trace_fields(doc: dict | None) -> dict:
    """One flat view of the two shapes the trace package gives: the scan answer's summary
    (``lot`` dates) and the public lot document (Circular 02/2024's ten items)."""
    if not doc:
        return {}
    lot = doc.get("lot") if isinstance(doc.get("lot"), dict) else {}
    times = doc.get("production_time") or {}
    shelf = doc.get("shelf_life") if isinstance(doc.get("shelf_life"), dict) else {}
    producer = dict(doc.get("producer") or {})
    if doc.get("address") and not producer.get("address"):
        producer["address"] = doc["address"]
    codes = doc.get("trace_codes")
    if isinstance(codes, dict):
        codes = [c for c in [codes.get("lot_uri"), *(codes.get("upstream") or [])] if c]
    return {
        "production_date": lot.get("production_date") or times.get("production_date"),
        "harvest_start": lot.get("harvest_start") or times.get("harvest_start"),
        "harvest_end": lot.get("harvest_end") or times.get("harvest_end"),
        "expiry_date": lot.get("expiry_date") or shelf.get("expiry_date"),
        "best_before": lot.get("best_before") or shelf.get("best_before"),
        "shelf_life_days": shelf.get("shelf_life_days") or doc.get("shelf_life_days"),
        "producer": producer, "origin": doc.get("origin") or {},
        "standards": doc.get("standards") or [], "trace_codes": codes or [],
        "certificates": doc.get("certificates") or [], "stages": doc.get("stages") or [],
        "images": doc.get("images") or [],
        "hotline": (doc.get("brand") or {}).get("consumer_hotline")
        if isinstance(doc.get("brand"), dict) else None,
    }


def product_card(product: ProductInfo, lang: str, lot: str | None, expiry, serial: str | None,
                 trace: dict | None) -> dict:
    """What the card shows, every row optional: a row with nothing entered is left out, so
    a brand that entered little gets a short, true card."""
    text = TEXT[lang]
    today = utcnow().astimezone(VN_TZ).date()
    f = _trace_fields(trace)
    rows: list[tuple[str, str]] = []
    name = (product.name_en or product.name) if lang == "en" else product.name
    rows.append((text["brand"], product.brand))
    producer = f.get("producer") or {}
    if producer.get("name"):
        rows.append((text["producer"], producer["name"]))
    address = producer.get("address") or ""
    province_name = producer.get("province_name")
    if province_name and province_name not in address:
        address = ", ".join(part for part in (address, province_name) if part)
    if address:
        rows.append((text["address"], address))
    rows.append((text["gtin"], Code(product.gtin)))
    if lot:
        rows.append((text["lot"], Code(lot)))
    if serial:
        rows.append((text["serial"], Code(serial)))
    if f.get("production_date"):
        rows.append((text["produced"], format_date(f["production_date"], lang)))
    if f.get("harvest_start"):
        harvest = format_date(f["harvest_start"], lang)
        if f.get("harvest_end") and f["harvest_end"] != f["harvest_start"]:
            harvest += " – " + format_date(f["harvest_end"], lang)
        rows.append((text["harvest"], harvest))
    expiry = expiry or f.get("expiry_date")
    if expiry:
        rows.append((text["expiry"], format_date(expiry, lang)))
    if f.get("best_before"):
        rows.append((text["best_before"], format_date(f["best_before"], lang)))
    if isinstance(f.get("shelf_life_days"), int):
        rows.append((text["shelf_life"], text["days"].format(n=f["shelf_life_days"])))
    if f.get("standards"):
        rows.append((text["standards"], ", ".join(f["standards"])))
    origin = f.get("origin") or {}
    if origin.get("name") or origin.get("province_name"):
        rows.append((text["origin"], ", ".join(
            part for part in (origin.get("name"), origin.get("province_name")) if part)))
    if origin.get("planting_area_code"):
        rows.append((text["planting_area"], Code(origin["planting_area_code"])))
    if f.get("trace_codes"):
        rows.append((text["trace_codes"], Code(" ".join(f["trace_codes"]))))
    certificates = []
    for cert in f.get("certificates") or []:
        status = _cert_status(cert, today)
        parts = [cert.get("number") or ""]
        if cert.get("issuer"):
            parts.append(text["cert_issuer"].format(issuer=cert["issuer"]))
        if cert.get("valid_to"):
            parts.append(text["cert_until"].format(date=format_date(cert["valid_to"], lang)))
        certificates.append({"name": cert.get("scheme_name") or cert.get("scheme") or "",
                             "detail": ", ".join(p for p in parts if p), "status": status,
                             "status_text": text["cert_" + status]})
    # Valid ones first: they are what a buyer looks for; expired ones stay, marked.
    certificates.sort(key=lambda c: c["status"] != "valid")
    stages = []
    for stage in f.get("stages") or []:
        place = stage.get("place") or {}
        province = PROVINCES.get(place.get("province") or "")
        province_name = (province.name if lang == "vi" else province.name_en) \
            if province else None
        step = stage.get("step_name") if lang == "vi" and stage.get("step_name") \
            else _step_name(stage.get("step"), lang)
        stages.append({"step": step,
                       "when": format_date(stage.get("time"), lang) if stage.get("time")
                       else "",
                       "where": ", ".join(p for p in (place.get("name"), province_name) if p),
                       "actor": stage.get("actor") or ""})
    description = product.description_en if lang == "en" and product.description_en \
        else product.description_vi
    images = f.get("images") or ([product.image_url] if product.image_url else [])
    return {"name": name, "rows": rows, "certificates": certificates, "stages": stages,
            "description": description, "image": images[0] if images else None,
            "map": origin_map(origin, lang) if origin else None}


STEP_NAMES = {
    "vi": {"commissioning": "Sản xuất", "harvesting": "Thu hoạch", "harvest": "Thu hoạch",
           "holding": "Tạm giữ", "sampling": "Lấy mẫu kiểm nghiệm", "growing": "Trồng trọt",
           "processing": "Chế biến", "packing": "Đóng gói", "shipping": "Xuất hàng",
           "receiving": "Nhận hàng", "storing": "Lưu kho", "retail_selling": "Bán lẻ",
           "inspecting": "Kiểm tra", "transforming": "Chế biến"},
    "en": {"commissioning": "Production", "harvesting": "Harvest", "harvest": "Harvest",
           "holding": "Held", "sampling": "Sampled for testing", "growing": "Growing",
           "processing": "Processing", "packing": "Packing", "shipping": "Shipped",
           "receiving": "Received", "storing": "Storage", "retail_selling": "Retail",
           "inspecting": "Inspection", "transforming": "Processing"},
}


def _step_name(step: str | None, lang: str) -> str:
    if not step:
        return ""
    key = step.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return STEP_NAMES[lang].get(key, key.replace("_", " ").capitalize())


# The small origin map: the 34 province centres as dots (a recognisable outline of the
# country with no tiles, no third-party script) and the origin as a marked point.
MAP_BOX = (102.0, 110.0, 8.4, 23.5)  # lon min, lon max, lat min, lat max
MAP_W, MAP_H = 120, 226


def _project(lat: float, lon: float) -> tuple[float, float]:
    lon_min, lon_max, lat_min, lat_max = MAP_BOX
    x = (min(max(lon, lon_min), lon_max) - lon_min) / (lon_max - lon_min) * MAP_W
    y = (lat_max - min(max(lat, lat_min), lat_max)) / (lat_max - lat_min) * MAP_H
    return round(x, 1), round(y, 1)


def origin_map(origin: dict, lang: str) -> dict | None:
    lat, lon = origin.get("lat"), origin.get("lon")
    if lat is None or lon is None:
        province = PROVINCES.get(origin.get("province") or "")
        if province is None:
            return None
        lat, lon = province.lat, province.lon
    place = origin.get("name") or origin.get("province_name") or ""
    # Three cities everyone knows, for orientation (labels to the right, in the margin).
    towns = []
    for code in ("01", "48", "79"):
        town = PROVINCES.get(code)
        if town is not None:
            x, y = _project(town.lat, town.lon)
            towns.append({"x": max(x + 6, 100), "y": y + 3,
                          "name": town.name if lang == "vi" else town.name_en})
    return {"w": MAP_W + 70, "h": MAP_H, "dots": [_project(p.lat, p.lon) for p in
                                                  PROVINCES.values()],
            "at": _project(float(lat), float(lon)), "towns": towns,
            "label": TEXT[lang]["map_label"].format(place=place)}


# -- rendering --------------------------------------------------------------------------------

def _wants_json() -> bool:
    """An API client naming JSON in Accept (above HTML): it gets the outcome as JSON."""
    named = dict(request.accept_mimetypes)
    wanted = named.get("application/json", 0)
    return wanted > 0 and wanted > named.get("text/html", 0)


def wants_html() -> bool:
    """A browser: it names text/html in Accept (``*/*`` alone is an API client)."""
    return any(value == "text/html" and quality > 0 for value, quality in
               request.accept_mimetypes)


def _view(outcome: str, lang: str, *, facts: list[str], fill: dict | None = None,
          hotline: str | None = None) -> dict:
    text = TEXT[lang]
    title, summary = text["outcomes"][outcome]
    # A line that names the hotline has a wording for products without one.
    advice = [line if isinstance(line, str) else line["hotline" if hotline else "else"]
              for line in text["advice"][outcome]]
    return {"outcome": outcome, **OUTCOMES[outcome], "title": title,
            "summary": summary.format(**(fill or {})) if fill else summary,
            "facts": facts, "advice": advice}


def _scan_code(item: ItemPath) -> str:
    code = current_app.config["PUBLIC_BASE_URL"] + item.path()
    expiry_q = request.args.get("17")
    if expiry_q and expiry_q.isdigit() and len(expiry_q) == 6:
        code += f"?17={expiry_q}"
    return code


def _float_field(body: dict, name: str, low: float, high: float) -> float | None:
    try:
        value = float(body.get(name))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def _record(app, code: str) -> service.ScanResult:
    """The page's POST (the inline script's, with location if the phone gave one; or the
    no-JavaScript button's, without): records one scan. Bad coordinates are dropped, not
    refused: the buyer still gets the verdict."""
    body = request.get_json(silent=True) if request.is_json else request.form
    body = body if hasattr(body, "get") else {}
    lat = _float_field(body, "lat", -90, 90)
    lon = _float_field(body, "lon", -180, 180)
    if lat is None or lon is None:
        lat = lon = None
    device = body.get("device_id")
    device = device if isinstance(device, str) and 0 < len(device) <= 128 else None
    return service.verify_scan(app, service.ScanRequest(
        code=code, source="consumer", lat=lat, lon=lon,
        accuracy_m=_float_field(body, "accuracy_m", 0, 1_000_000) if lat is not None else None,
        device_id=device, client_address=request.remote_addr,
        user_agent=request.headers.get("User-Agent", "")[:300]))


def render_page(item: ItemPath, product: ProductInfo, record: bool = False):
    app = current_app._get_current_object()
    lang = choose_lang()
    code = _scan_code(item)
    card = None
    recall = None
    result_json: dict = {}
    if item.serial:
        ref = StampRef(item.gtin, item.serial, item.lot, None)
        result = _record(app, code) if record else service.current_verification(app, ref)
        result_json = {**result.to_json(), "_recorded": record}
        outcome = outcome_of(result_json)
        rng = result.identified.range
        lot = rng.lot if rng else item.lot
        # The scan answer's trace summary (cached in process) says whether the lot was
        # recalled in the trace records; the card's full document is read only for a page.
        trace = result_json.get("trace") if outcome != "counterfeit" else None
        if trace and trace.get("recall") and outcome in (
                "genuine", "repeat", "expired", "suspicious", "not_activated"):
            outcome = "recalled"
        fragment = record and request.headers.get(FRAGMENT_HEADER)
        if outcome != "counterfeit" and not fragment and not _wants_json():
            card = product_card(product, lang, lot, rng.expiry if rng else None, item.serial,
                                lot_trace(item.gtin, lot) or trace)
        recall = recall_of(result, trace) if outcome != "counterfeit" else None
        if recall:
            recall["text"] = " ".join(explain({"reasons": []}, "recalled", lang, recall))
        hotline = product.consumer_hotline if outcome != "counterfeit" else None
        # On the page the recall banner says who and why; the JSON says it in its list.
        view = _view(outcome, lang, hotline=hotline, facts=explain(
            result_json, outcome, lang, recall if _wants_json() else None))
    else:
        outcome = "product_info"
        hotline = product.consumer_hotline
        card = product_card(product, lang, item.lot, None, None, lot_trace(item.gtin, item.lot))
        view = _view(outcome, lang, facts=[], hotline=hotline)
    if _wants_json():
        return _json_answer(view, lang, result_json, hotline, recorded=record)
    # The stamp URI itself (/01/...) answers GET only (resolver); the page's POST goes to
    # the default link's path, /v/01/..., with the same query (expiry).
    post_url = url_for("resolver.stamp_page", rest=item.path()[len("/01/"):])
    if request.query_string:
        post_url += "?" + request.query_string.decode("ascii", "replace")
    context = {"view": view, "card": card, "recall": recall, "hotline": hotline,
               "code": code, "serial": item.serial, "recorded": record, "post_url": post_url,
               "pin_enabled": bool(result_json.get("pin_enabled")),
               "gtin": item.gtin if outcome != "counterfeit" else None}
    if record and request.headers.get(FRAGMENT_HEADER):
        response = make_response(render_template("scan/_result.html", t=TEXT[lang],
                                                 lang=lang, **context))
    else:
        response = _page(lang, context)
    return _finish(response, lang)


def _json_answer(view: dict, lang: str, result_json: dict, hotline, *, recorded: bool,
                 status: int = 200, retry_after: float | None = None):
    scan = {k: v for k, v in result_json.items() if not k.startswith("_")}
    body = {"outcome": view["outcome"], "lang": lang, "title": view["title"],
            "message": view["summary"], "explanation": view["facts"],
            "next_steps": view["advice"], "recorded": recorded, "hotline": hotline,
            "scan": scan or None}
    if retry_after is not None:
        body["retry_after_s"] = retry_after
    response = jsonify(body)
    response.status_code = status
    return _finish(response, lang)


def _page(lang: str, context: dict, status: int = 200):
    other = "en" if lang == "vi" else "vi"
    response = make_response(render_template(
        "scan/page.html", lang=lang, t=TEXT[lang], other_lang=other,
        switch_url=f"{request.path}?lang={other}", **context), status)
    return response


def _finish(response, lang: str):
    response.headers["Content-Language"] = lang
    response.headers["Cache-Control"] = "no-store"
    response.vary.update(("Accept", "Accept-Language", "Cookie"))
    if request.args.get("lang") in LANGS:
        # The toggle's choice sticks for every later stamp, until toggled back.
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax",
                            secure=request.is_secure, httponly=True)
    return response


# -- error outcomes as pages --------------------------------------------------------------------

def outcome_page(outcome: str, *, gtin: str | None = None, retry_after: float | None = None,
                 status: int | None = None, headers: dict | None = None,
                 detail: str | None = None):
    lang = choose_lang()
    fill = {}
    if outcome == "unknown_product":
        fill = {"gtin": gtin or "?"}
    if outcome == "rate_limited":
        seconds = max(1, math.ceil(retry_after or 60))
        units = TEXT[lang]["units"]
        wait = TEXT[lang]["seconds"].format(n=seconds) if seconds < 120 else \
            units["minute"].format(n=math.ceil(seconds / 60))
        at = utcnow().astimezone(VN_TZ) + dt.timedelta(seconds=seconds)
        fill = {"wait": wait, "at": f"{at:%H:%M}"}
    # A technical detail (why the link is not valid) for whoever helps the buyer.
    facts = [TEXT[lang]["technical"].format(detail=detail)] if detail else []
    view = _view(outcome, lang, facts=facts, fill=fill)
    if retry_after is not None:
        view["retry_url"] = request.full_path.rstrip("?")
    status = status or OUTCOMES[outcome]["status"]
    if _wants_json():
        response = _json_answer(view, lang, {}, None, recorded=False, status=status,
                                retry_after=retry_after)
    else:
        response = _finish(_page(lang, {"view": view, "card": None, "recall": None,
                                        "hotline": None, "code": request.path,
                                        "serial": None, "recorded": False,
                                        "pin_enabled": False, "gtin": gtin}, status), lang)
    if headers:
        response.headers.update(headers)
    return response


def _path_gtin() -> str | None:
    parts = request.path.split("/01/", 1)
    digits = parts[1].split("/", 1)[0] if len(parts) == 2 else ""
    return digits if digits.isdigit() and len(digits) <= 14 else None


def register_error_pages(bp, too_many) -> None:
    """Browsers get an outcome page; API clients the service's JSON error shape."""

    def plain() -> bool:
        return not wants_html() and not _wants_json()

    def domain(exc: DomainError):
        if plain():
            return error_response(status_for(exc), exc.code, exc.message, exc.details,
                                  headers=getattr(exc, "headers", None))
        if isinstance(exc, InvalidDigitalLink | InvalidInput):
            return outcome_page("malformed", status=400 if isinstance(
                exc, InvalidDigitalLink) else 422, detail=exc.message)
        if isinstance(exc, RateLimited):
            return outcome_page("rate_limited", retry_after=float(exc.headers["Retry-After"]),
                                headers=exc.headers)
        if isinstance(exc, NotFound):
            return outcome_page("unknown_product", gtin=_path_gtin(), status=404)
        return outcome_page("unavailable", status=status_for(exc))

    def http(exc: HTTPException):
        if exc.code == 429:
            if plain():
                return too_many(exc)
            limit = getattr(exc, "limit", None)
            try:
                retry = float(limit.limit.get_expiry())
            except Exception:  # noqa: BLE001 - any limit object: a minute is a fair guess
                retry = 60.0
            return outcome_page("rate_limited", retry_after=retry,
                                headers={"Retry-After": str(math.ceil(retry))})
        return http_exception_response(exc)

    def outage(exc: Exception):
        log.error("stamp page unavailable on %s %s: %s", request.method, request.path,
                  type(exc).__name__)
        if plain():
            return error_response(503, "database_unavailable",
                                  "The database is not reachable right now; try again "
                                  "shortly.", headers={"Retry-After": "5"})
        return outcome_page("unavailable", retry_after=5.0, headers={"Retry-After": "5"})

    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if plain():
            return error_response(500, "internal_error", "Something went wrong on our side.")
        return outcome_page("unavailable", status=500)

    bp.register_error_handler(DomainError, domain)
    bp.register_error_handler(HTTPException, http)
    bp.register_error_handler(OperationalError, outage)
    bp.register_error_handler(PoolTimeout, outage)
    bp.register_error_handler(Exception, unexpected)


def report_action() -> str:
    return url_for("consumer_reports.submit_form")
