"""The fraud rules: pure functions over one scan, the code's history and its range.

Each rule has an id (the machine-readable reason), a bilingual explanation, a weight (0..1:
how much risk it adds when it fires at full strength) and named thresholds with defaults.
A brand tunes the thresholds per product through ``Product.fraud_settings`` using the
setting names below (see docs/FRAUD.md for the table).

Every threshold is the largest value that is still normal: a rule fires only when the value
is *above* it, so "exactly at the threshold" never fires. A rule returns its strength in
0..1 (0 = did not fire); count rules start at about one half just above the limit and reach
full strength at twice the limit, so a flag escalates as a clone keeps being scanned.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..regions import haversine_km
from .facts import CodeHistory, RangeFacts, ScanFacts, ScanPlace

# Defaults for every tunable setting; per-product values override them.
DEFAULT_SETTINGS: dict[str, float] = {
    # risk (0..100) at or above which a code is flagged for inspectors
    "flag_at": 50.0,
    # risk at or above which the consumer sees "suspicious" (higher: be sure before alarming)
    "suspicious_at": 60.0,
    # total scans of one code that are still normal (family, shop assistant, re-checks)
    "max_scans": 20.0,
    # distinct phones that may scan one code: an item on a shop display is scanned by a few
    # shoppers, then by the buyer and the family (7 is seen in practice; clones reach dozens)
    "max_devices": 8.0,
    # distinct phones scanning within burst_window_s that are still normal
    "max_burst_scans": 4.0,
    "burst_window_s": 600.0,
    # door-to-door speed no one carries a product at (a domestic flight is ~300-400 km/h)
    "max_speed_kmh": 500.0,
    # distances below this are GPS noise, rounding or one town: never "travel"
    "min_travel_km": 50.0,
    # distinct provinces a code may be scanned in (the shop's and the buyer's home)
    "max_provinces": 2.0,
    # scratch-off PIN: successful claims (one is the buyer's) and wrong guesses allowed
    "max_pin_claims": 1.0,
    "max_pin_failures": 3.0,
}


@dataclass(frozen=True)
class Rule:
    id: str
    weight: float
    title_en: str
    title_vi: str
    explanation_en: str
    explanation_vi: str
    settings: tuple[str, ...]
    evaluate: Callable[[ScanFacts, CodeHistory, RangeFacts, Mapping[str, float]], float]


def settings_for(rng: RangeFacts) -> dict[str, float]:
    """Defaults overlaid with the product's overrides; nonsense values keep the default."""
    merged = dict(DEFAULT_SETTINGS)
    for name, value in (rng.settings or {}).items():
        if name in merged and isinstance(value, int | float) and math.isfinite(value) \
                and value >= 0:
            merged[name] = float(value)
    return merged


def excess_strength(value: float, limit: float) -> float:
    """0 at or below ``limit``; from ~0.5 just above it to 1.0 at twice the limit."""
    if value <= limit:
        return 0.0
    if limit <= 0:
        return 1.0
    return min(1.0, 0.5 + 0.5 * (value - limit) / limit)


def _has_point(place: ScanPlace | None) -> bool:
    # A non-finite coordinate is no position: it would raise in haversine (inf) or fire a
    # rule at full strength (NaN compares false against every limit).
    return (place is not None and place.lat is not None and place.lon is not None
            and math.isfinite(place.lat) and math.isfinite(place.lon))


def _all_places(scan: ScanFacts, history: CodeHistory) -> list[ScanPlace]:
    return [scan.place, *history.recent]


# -- the rules -----------------------------------------------------------------------------


def many_scans(scan, history, rng, s) -> float:
    # At least this scan happened even if the store lost count (Redis flushed).
    return excess_strength(max(history.scan_count, 1), s["max_scans"])


def many_devices(scan, history, rng, s) -> float:
    return excess_strength(history.device_count, s["max_devices"])


def scan_burst(scan, history, rng, s) -> float:
    """Distinct phones scanning within the window ending at this scan.

    One phone re-scanning (the page reloads, a doubtful buyer) counts once; scans without a
    device hash count one each, as they cannot be told apart.
    """
    window = dt.timedelta(seconds=s["burst_window_s"])
    start = scan.place.at - window
    devices: set[str] = set()
    anonymous = 0
    for place in _all_places(scan, history):
        if place.at < start or place.at > scan.place.at:
            continue
        if place.device_hash:
            devices.add(place.device_hash)
        else:
            anonymous += 1
    return excess_strength(len(devices) + anonymous, s["max_burst_scans"])


def travel_speed_kmh(a: ScanPlace, b: ScanPlace, min_km: float) -> float:
    """Implied speed between two scans; 0 when either lacks a point or they are close."""
    if not (_has_point(a) and _has_point(b)):
        return 0.0
    # The two positions may each be off by their accuracy radius: count only what is sure.
    slack_km = ((a.accuracy_m or 0.0) + (b.accuracy_m or 0.0)) / 1000.0
    km = haversine_km(a.lat, a.lon, b.lat, b.lon) - slack_km
    if km < min_km:
        return 0.0
    # A floor of one minute: clocks and batching blur scans that seem simultaneous.
    hours = max(abs((a.at - b.at).total_seconds()), 60.0) / 3600.0
    return km / hours


def impossible_travel(scan, history, rng, s) -> float:
    if not _has_point(scan.place):
        return 0.0
    fastest = max((travel_speed_kmh(scan.place, p, s["min_travel_km"]) for p in history.recent),
                  default=0.0)
    return excess_strength(fastest, s["max_speed_kmh"])


def many_provinces(scan, history, rng, s) -> float:
    provinces = {p.province for p in _all_places(scan, history) if p.province}
    return excess_strength(len(provinces), s["max_provinces"])


def out_of_market(scan, history, rng, s) -> float:
    # Only a measured position counts: a province guessed without coordinates is no evidence.
    if not _has_point(scan.place) or not scan.place.province or not rng.market_regions:
        return 0.0
    return 0.0 if scan.place.province in rng.market_regions else 1.0


def _standing_is(standing: str) -> Callable:
    def rule(scan, history, rng, s) -> float:
        return 1.0 if scan.standing == standing else 0.0

    return rule


def pin_reused(scan, history, rng, s) -> float:
    return excess_strength(history.pin_claims, s["max_pin_claims"])


def pin_guessing(scan, history, rng, s) -> float:
    return excess_strength(history.pin_failures, s["max_pin_failures"])


RULES: tuple[Rule, ...] = (
    Rule("many_scans", 0.7, "Scanned too many times", "Bị quét quá nhiều lần",
         "This code has been scanned more often than one genuine item ever is.",
         "Mã này bị quét nhiều hơn mức bình thường của một sản phẩm thật.",
         ("max_scans",), many_scans),
    Rule("many_devices", 0.75, "Too many phones", "Quá nhiều điện thoại",
         "Too many different phones scanned this one code: copies are likely in circulation.",
         "Quá nhiều điện thoại khác nhau đã quét cùng một mã: có thể mã đã bị sao chép.",
         ("max_devices",), many_devices),
    Rule("scan_burst", 0.6, "Burst of scans", "Quét dồn dập",
         "Many different phones scanned this code within a few minutes.",
         "Nhiều điện thoại khác nhau quét mã này trong vài phút.",
         ("max_burst_scans", "burst_window_s"), scan_burst),
    Rule("impossible_travel", 0.9, "Impossible travel", "Di chuyển bất khả thi",
         "Two scans of this code are too far apart for the time between them: "
         "the same stamp exists in two places.",
         "Hai lần quét mã này cách nhau quá xa so với thời gian giữa chúng: "
         "cùng một tem đang ở hai nơi.",
         ("max_speed_kmh", "min_travel_km"), impossible_travel),
    Rule("many_provinces", 0.6, "Scanned in many provinces", "Bị quét ở nhiều tỉnh",
         "This code was scanned in more provinces than one item travels through.",
         "Mã này bị quét ở nhiều tỉnh hơn hành trình của một sản phẩm.",
         ("max_provinces",), many_provinces),
    # Below the flag threshold alone (45 < 50): a buyer carries a product home across a
    # provincial border every day. With any other signal it flags; a brand that wants
    # every out-of-market scan flagged sets flag_at to 45 for the product.
    Rule("out_of_market", 0.45, "Outside its market", "Ngoài thị trường phân phối",
         "Scanned in a province where this batch is not sold (possible grey-market diversion).",
         "Được quét tại tỉnh không thuộc thị trường phân phối của lô hàng (có thể tuồn hàng).",
         (), out_of_market),
    Rule("not_activated", 0.6, "Not yet activated", "Chưa được kích hoạt",
         "This stamp was never activated by the brand: it should not be on sale yet.",
         "Tem này chưa được doanh nghiệp kích hoạt: sản phẩm chưa được phép bán.",
         (), _standing_is("not_activated")),
    Rule("voided", 0.9, "Voided stamp", "Tem đã bị hủy",
         "This stamp was voided (spoiled or destroyed at printing) and should not exist.",
         "Tem này đã bị hủy khi in và lẽ ra không còn tồn tại.",
         (), _standing_is("voided")),
    Rule("recalled", 0.6, "Recalled product", "Sản phẩm bị thu hồi",
         "This item belongs to a recalled batch that is still being sold.",
         "Sản phẩm thuộc lô đã bị thu hồi nhưng vẫn đang được bán.",
         (), _standing_is("recalled")),
    Rule("compromised_key", 0.8, "Compromised signing key", "Khóa ký bị lộ",
         "This stamp was signed with a key that has since been reported compromised.",
         "Tem được ký bằng khóa đã bị báo là bị lộ.",
         (), _standing_is("compromised_key")),
    Rule("pin_reused", 0.85, "PIN claimed twice", "Mã PIN bị dùng lại",
         "The scratch-off PIN of this stamp has already been claimed by someone else.",
         "Mã PIN cào của tem này đã được người khác xác thực trước đó.",
         ("max_pin_claims",), pin_reused),
    Rule("pin_guessing", 0.5, "PIN guessing", "Dò mã PIN",
         "Wrong PINs were tried repeatedly on this stamp.",
         "Nhiều mã PIN sai đã được thử trên tem này.",
         ("max_pin_failures",), pin_guessing),
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}

# Not a per-scan rule (forged codes have no history of their own): an aggregate over
# counterfeit scans, see ``hotspots``. Listed so that reasons and docs can name it.
HOTSPOT_REASON = "counterfeit_hotspot"
HOTSPOT_DEFAULT_MIN_FORGED = 5
COUNTERFEIT_REASON = "counterfeit"

AGGREGATE_SIGNALS: dict[str, dict[str, str]] = {
    COUNTERFEIT_REASON: {
        "title_en": "Forged or unknown code", "title_vi": "Mã giả hoặc không xác định",
        "explanation_en": "The stamp's signature does not verify or its range was never "
                          "issued: it was not printed from this system.",
        "explanation_vi": "Chữ ký của tem không hợp lệ hoặc dải mã chưa từng được cấp: "
                          "tem không được in từ hệ thống này."},
    # Why the scan path judged a code counterfeit (its reasons on those scans).
    "bad_signature": {
        "title_en": "Bad signature", "title_vi": "Sai chữ ký",
        "explanation_en": "The serial's signature does not match this product and lot.",
        "explanation_vi": "Chữ ký của số sê-ri không khớp với sản phẩm và lô này."},
    "bad_format": {
        "title_en": "Not a stamp serial", "title_vi": "Không phải số sê-ri tem",
        "explanation_en": "The serial does not have the shape of a stamp serial.",
        "explanation_vi": "Số sê-ri không đúng định dạng của tem."},
    "unknown_key": {
        "title_en": "Unknown signing key", "title_vi": "Khóa ký không tồn tại",
        "explanation_en": "The serial names a signing key this service never had.",
        "explanation_vi": "Số sê-ri dùng một khóa ký mà hệ thống chưa từng có."},
    "unknown_range": {
        "title_en": "Never issued", "title_vi": "Chưa từng được cấp",
        "explanation_en": "The serial lies outside every issued range.",
        "explanation_vi": "Số sê-ri nằm ngoài mọi dải mã đã cấp."},
    "unknown_serial": {
        "title_en": "Wrong product for serial", "title_vi": "Sai sản phẩm",
        "explanation_en": "The serial belongs to a range of another product or lot.",
        "explanation_vi": "Số sê-ri thuộc dải mã của sản phẩm hoặc lô khác."},
    HOTSPOT_REASON: {
        "title_en": "Counterfeit hotspot", "title_vi": "Điểm nóng hàng giả",
        "explanation_en": "Forged codes are concentrating in this province or map cell.",
        "explanation_vi": "Mã giả đang tập trung tại tỉnh hoặc ô bản đồ này."},
}


def hotspot_places(counts: Mapping[str, int], min_forged: int) -> set[str]:
    """The places (province codes or map cells) where forged scans reach ``min_forged``.

    Unlike the per-code rules this one is "at or above": the setting reads as "this many
    forged scans make a hotspot".
    """
    return {place for place, count in counts.items() if count >= max(1, min_forged)}


def combine(strengths: Mapping[str, float]) -> int:
    """Risk 0..100: a noisy-OR of the fired rules' weighted strengths.

    Independent weak signals add up (two 50% signals give 75%) but never exceed 100, and
    one strong signal alone can carry a flag.
    """
    clear = 1.0
    for rule_id, strength in strengths.items():
        clear *= 1.0 - RULES_BY_ID[rule_id].weight * min(1.0, max(0.0, strength))
    return int(round(100 * (1.0 - clear)))
