"""Verify a scan: the hot path, read top to bottom as the steps it takes.

    parse the stamp URI -> check the serial's signature (in process) -> find its range
    (in-process index) -> one Redis script call: reload window, counters, devices, places
    (CodeHistory) -> fraud rules (pure) -> write the scan event (acknowledged only once
    committed) -> answer.

Verdicts: ``authentic``; ``suspicious`` (genuine, fraud signals fired); ``not_activated``
(issued or printed, never released); ``voided``; ``recalled``; ``counterfeit`` (reasons
``bad_format``, ``unknown_key``, ``bad_signature``, ``compromised_key``, ``unknown_range``,
``unknown_serial``). Forged codes are recorded too (hotspots) but have no counters.

When Redis fails the same answer comes from the database (``degraded``: true, counted in
/metrics); no acknowledged scan depends on Redis.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import redis
from flask import Flask

from ..db import get_engine, utcnow
from ..errors import InvalidInput, RateLimited
from ..metrics import Metrics
from ..redis_client import get_redis
from ..regions import PROVINCES, cell_of, default_locator
from ..risk import engine as fraud
from ..risk.facts import CodeHistory, RangeFacts, ScanFacts, ScanPlace
from ..serials.codec import InvalidSerial, SerialCodec
from ..serials.lifecycle import CodeStatus
from ..serials.lookup import RangeInfo
from ..serials.pins import check_pin as serial_pin_matches
from ..serials.stamps import StampRef
from ..services import services
from .catalog import Catalog, ProductInfo
from .flag_writer import FlagWriter
from .limits import ScanLimits, Window
from .privacy import Hasher, round_coord
from .redis_store import BucketRebuilding, RedisScanStateStore
from .sink import DirectSink, GroupCommitSink
from .store import Observation, ScanStateStore, SqlScanStateStore
from .uri import parse_scanned

log = logging.getLogger(__name__)

SOURCES = ("consumer", "api", "inspector")


class Verdict(StrEnum):
    """What the consumer is told (stored as its string value with the scan)."""

    AUTHENTIC = "authentic"
    SUSPICIOUS = "suspicious"
    NOT_ACTIVATED = "not_activated"
    VOIDED = "voided"
    RECALLED = "recalled"
    COUNTERFEIT = "counterfeit"


_STANDING = {CodeStatus.ACTIVATED: "genuine", CodeStatus.ISSUED: "not_activated",
             CodeStatus.PRINTED: "not_activated", CodeStatus.VOIDED: "voided",
             CodeStatus.RECALLED: "recalled"}
# The verdict of a genuine code that is not (or no longer) on the market.
_VERDICT = {CodeStatus.ISSUED: Verdict.NOT_ACTIVATED, CodeStatus.PRINTED: Verdict.NOT_ACTIVATED,
            CodeStatus.VOIDED: Verdict.VOIDED, CodeStatus.RECALLED: Verdict.RECALLED}


# -- per-app components ---------------------------------------------------------------------

@dataclass
class ScanComponents:
    hasher: Hasher
    store: ScanStateStore  # Redis when configured, else the database
    fallback: SqlScanStateStore  # the database, marked degraded
    sink: DirectSink
    catalog: Catalog
    metrics: Metrics
    reload_window_s: float
    limits: ScanLimits
    # Writes flags: fraud.flags.on_scans_recorded, handed over by the composition root.
    record_flags: Callable[[Sequence[tuple]], None]
    flag_writer: FlagWriter | None = None  # flags after the answer (production)
    # The time of a scan. None: the real clock. Tests and the scenario harness
    # (scanapp/fraud/harness.py) set their own, so weeks of scans replay in seconds through
    # this same service; production never sets it.
    clock: Callable[[], dt.datetime] | None = None

    def now(self) -> dt.datetime:
        return self.clock() if self.clock is not None else utcnow()


def build_components(app: Flask, codec: SerialCodec, hasher: Hasher, metrics: Metrics,
                     record_flags: Callable[[Sequence[tuple]], None]) -> ScanComponents:
    """The scan path's parts, built once by the composition root (scanapp/bootstrap.py)."""
    engine = get_engine(app)
    client = get_redis(app)
    if client is not None:
        store: ScanStateStore = RedisScanStateStore(
            client, app.config["REDIS_PREFIX"], engine,
            on_rebuild=lambda: metrics.inc("scanapp_redis_bucket_rebuilds_total"),
            ttl_s=app.config["SCAN_STATE_TTL_S"], filter_bits=app.config["SCAN_FILTER_BITS"],
            filter_hashes=app.config["SCAN_FILTER_HASHES"],
            on_summary_read=lambda: metrics.inc("scanapp_scan_summary_reads_total"))
    else:
        store = SqlScanStateStore(engine)
    group = app.config["SCAN_GROUP_COMMIT"]
    if group is None:  # production default: share commits between concurrent scans
        group = engine.dialect.name == "postgresql"
    hook = store.note_stored if isinstance(store, RedisScanStateStore) else None
    sink = (GroupCommitSink(engine, before_commit=hook) if group
            else DirectSink(engine, before_commit=hook))
    flag_writer = FlagWriter(record_flags) if app.config["SCAN_FLAGS_IN_BACKGROUND"] else None
    return ScanComponents(
        hasher=hasher, store=store,
        fallback=SqlScanStateStore(engine, degraded=True), sink=sink,
        catalog=Catalog(engine), metrics=metrics,
        reload_window_s=float(app.config["SCAN_RELOAD_WINDOW_S"]),
        limits=ScanLimits(app), record_flags=record_flags, flag_writer=flag_writer)


# -- inputs and outputs ---------------------------------------------------------------------

@dataclass(frozen=True)
class ScanRequest:
    code: str
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    device_id: str | None = None
    client_address: str | None = None
    user_agent: str = ""
    source: str = "api"
    # Count the scan API's rate limits in the scan's round trip (the API view). The stamp
    # page is limited by Flask-Limiter before it gets here; the demo seeder is not limited.
    rate_limited: bool = False


@dataclass(frozen=True)
class Identified:
    """What the stamp is, from its signature and lifecycle alone (no counting)."""

    ref: StampRef
    seq: int | None = None
    range: RangeInfo | None = None
    status: str | None = None
    product: ProductInfo | None = None
    counterfeit_reason: str | None = None

    @property
    def genuine(self) -> bool:
        return self.counterfeit_reason is None


@dataclass
class ScanResult:
    verdict: str
    reasons: list[str]
    identified: Identified
    history: CodeHistory | None = None
    repeat: bool = False
    degraded: bool = False
    risk: int = 0
    scan_id: int | None = None
    extra: dict = field(default_factory=dict)
    # The lot's origin summary (scanapp.trace), from that package's in-process cache.
    trace: dict | None = None

    def to_json(self) -> dict:
        ident, history = self.identified, self.history
        rng = ident.range
        expiry = rng.expiry if rng else ident.ref.expiry
        return {
            "verdict": self.verdict,
            "reasons": self.reasons,
            "scan_count": history.scan_count if history else None,
            "device_count": history.device_count if history else None,
            "first_scan": place_json(history.first_scan) if history else None,
            # The most recent scan before this one (null on a first scan).
            "last_scan": place_json(history.recent[0]) if history and history.recent else None,
            "repeat": self.repeat,
            "degraded": self.degraded,
            "risk": self.risk,
            "product": ident.product.to_json() if ident.product and ident.genuine else None,
            "gtin": ident.ref.gtin,
            "lot": rng.lot if rng else ident.ref.lot,
            "serial": ident.ref.serial,
            "expiry": expiry.isoformat() if expiry else None,
            "expired": bool(expiry and expiry < utcnow().date()),
            "pin_enabled": bool(rng and rng.pin_enabled and ident.genuine),
            "trace": self.trace,
        }


def place_json(place: ScanPlace | None) -> dict | None:
    if place is None:
        return None
    province = PROVINCES.get(place.province or "")
    return {"at": place.at.isoformat(timespec="seconds"), "province": place.province,
            "province_name": province.name if province else None,
            "province_name_en": province.name_en if province else None}


# -- the hot path ---------------------------------------------------------------------------

def identify(app: Flask, ref: StampRef) -> Identified:
    """Signature, range and lifecycle of a parsed stamp; nothing is counted or written."""
    found = services(app)
    try:
        seq = found.codec.verify(ref.serial, ref.gtin, ref.lot)
    except InvalidSerial as exc:
        return Identified(ref, counterfeit_reason=exc.reason)
    info = found.ranges.find(seq)
    if info is None:
        return Identified(ref, seq=seq, counterfeit_reason="unknown_range")
    if info.gtin != ref.gtin or (info.lot or None) != (ref.lot or None):
        # The tag binds GTIN and lot, so only a leaked key could get here.
        return Identified(ref, seq=seq, range=info, counterfeit_reason="unknown_serial")
    product = found.scan.catalog.by_id(info.product_id)
    return Identified(ref, seq=seq, range=info, status=found.ranges.status(info, seq),
                      product=product)


def verify_scan(app: Flask, req: ScanRequest) -> ScanResult:
    parts = services(app).scan
    ref = parse_scanned(req.code)
    place, client_hash = _place(parts, req)
    windows = _limit_windows(parts, req, place, client_hash)
    ident = identify(app, ref)
    if not ident.genuine:
        if windows:
            _count_alone(parts, windows)
        return _record_counterfeit(app, parts, ident, place, req.source)

    rng = ident.range
    range_facts = _range_facts(ident)
    # Before the store's critical section: a cold lot's summary is built from the database.
    trace = trace_summary(app, ident)
    with parts.store.serialised():
        obs = _observe(parts, ref.serial, place, windows)
        if obs.counts:
            refused = parts.limits.breached(windows, obs.counts)
            if refused is not None:
                if not obs.is_repeat:  # Redis counted it, no row will exist: recount it
                    parts.store.mark_stale(ref.serial)
                raise refused
        facts = ScanFacts(serial=ref.serial, gtin=ref.gtin, place=place,
                          standing=_STANDING.get(ident.status or "", ident.status or ""),
                          is_repeat_of_same_device=obs.is_repeat)
        assessment = fraud.assess(facts, obs.history, range_facts)
        verdict, reasons = _verdict(ident.status, assessment)
        result = ScanResult(verdict, reasons, ident, obs.history, repeat=obs.is_repeat,
                            degraded=obs.degraded, risk=assessment.risk, trace=trace)
        if obs.is_repeat:
            parts.metrics.inc("scanapp_scan_reloads_total")
        else:
            result.scan_id = _record(parts, ref.serial, {
                **_row(ident, place, req.source, obs.degraded),
                "range_id": rng.id, "verdict": str(verdict), "reasons": reasons,
                "risk": assessment.risk, "scan_no": obs.scan_no})
        if obs.degraded and isinstance(parts.store, RedisScanStateStore):
            # Redis never saw this scan: reload the code from the database (row now stored)
            # once Redis answers, so the counters converge.
            parts.store.mark_stale(ref.serial)
    parts.metrics.inc("scanapp_scans_total", verdict=verdict)
    if obs.degraded:
        parts.metrics.inc("scanapp_scan_degraded_total")
    if assessment.flag and result.scan_id is not None:
        _flag_later(parts, result.scan_id, facts, obs.history, range_facts, assessment)
    return result


def _range_facts(ident: Identified) -> RangeFacts:
    """The range's market and the product's tuning, as the rules read them."""
    rng, product = ident.range, ident.product
    return RangeFacts(
        range_id=rng.id, status=ident.status,
        market_regions=rng.market_regions or (product.market_regions if product else ()),
        settings=dict(product.fraud_settings) if product else {})


def _flag_later(parts: ScanComponents, scan_id: int | None, facts: ScanFacts,
                history: CodeHistory, range_facts: RangeFacts,
                assessment: fraud.Assessment) -> None:
    if parts.flag_writer is not None:
        parts.flag_writer.submit(scan_id, facts, history, range_facts, assessment)
    else:
        parts.record_flags([(scan_id, facts, history, range_facts, assessment)])


def _verdict(status: str | None, assessment: fraud.Assessment) -> tuple[str, list[str]]:
    signals = list(assessment.reasons)
    if status == CodeStatus.ACTIVATED:
        return (Verdict.SUSPICIOUS if assessment.suspicious else Verdict.AUTHENTIC), signals
    verdict = _VERDICT.get(status or "", Verdict.NOT_ACTIVATED)
    return verdict, [verdict.value, *signals]


def _place(parts: ScanComponents, req: ScanRequest) -> tuple[ScanPlace, str | None]:
    if req.source not in SOURCES:
        raise InvalidInput(f"source must be one of {', '.join(SOURCES)}", code="invalid_source")
    exact = req.source == "inspector"  # inspectors record where they stood; consumers get privacy
    lat = req.lat if exact else round_coord(req.lat)
    lon = req.lon if exact else round_coord(req.lon)
    address = req.client_address or ""
    if req.device_id:
        device = parts.hasher.device(req.device_id)
    else:
        device = parts.hasher.anonymous_device(address, req.user_agent)
    client = parts.hasher.client(address) if address else None
    accuracy = None if req.accuracy_m is None or lat is None else round(req.accuracy_m, 1)
    return ScanPlace(at=parts.now(), lat=lat, lon=lon,
                     province=_province_at(lat, lon, default_locator.uses_polygons),
                     device_hash=device, accuracy_m=accuracy,
                     network=parts.hasher.network(address)), client


@functools.lru_cache(maxsize=65_536)
def _province_at(lat: float | None, lon: float | None, _polygons: bool) -> str | None:
    """Rounded coordinates repeat (shops, markets), and the anchor search is 63 distance
    computations: remember answers. Keyed on whether boundary polygons are loaded."""
    return default_locator.province_at(lat, lon)


def _limit_windows(parts: ScanComponents, req: ScanRequest, place: ScanPlace,
                   client_hash: str | None) -> list[Window]:
    """The rate-limit windows still to count in the scan's Redis round trip (scan/limits.py);
    without a shared Redis they are counted here, and a client already over a window is
    refused here."""
    if not req.rate_limited:
        return []
    windows = parts.limits.windows(client_hash, place.device_hash if req.device_id else None)
    if not windows:
        return []
    parts.limits.refuse_if_blocked(windows)
    if parts.limits.pipelined and isinstance(parts.store, RedisScanStateStore):
        return windows
    parts.limits.hit(windows)
    return []


def _address_windows(app: Flask, address: str | None) -> tuple[ScanComponents, list[Window]]:
    parts = services(app).scan
    return parts, parts.limits.windows(parts.hasher.client(address) if address else None, None)


def refuse_if_flooding(app: Flask, address: str | None) -> None:
    """Before a scan's body is read: refuse an address already over its window here."""
    if not services(app).scan.limits.blocking:
        return  # the common case: no keyed hash, no window keys for nothing
    parts, windows = _address_windows(app, address)
    if windows:
        parts.limits.refuse_if_blocked(windows)


def count_refused_request(app: Flask, address: str | None) -> None:
    """A scan request answered 4xx before it became a scan still spends the address's
    budget (invalid bodies are the expensive ones)."""
    parts, windows = _address_windows(app, address)
    if windows:
        parts.limits.count_refused(windows)


def _count_alone(parts: ScanComponents, windows: list[Window]) -> None:
    """A forged code touches no code state: its windows take a round trip of their own."""
    try:
        counts = parts.store.count(_windows_args(windows))
    except redis.RedisError:
        return  # fail open, as the limiter does
    refused = parts.limits.breached(windows, counts)
    if refused is not None:
        raise refused


def _windows_args(windows: list[Window]) -> list[tuple[str, int]]:
    return [(window.key, window.seconds) for window in windows]


def _observe(parts: ScanComponents, serial: str, place: ScanPlace,
             windows: list[Window]) -> Observation:
    try:
        if windows:
            return parts.store.observe(serial, place, parts.reload_window_s,
                                       _windows_args(windows))
        return parts.store.observe(serial, place, parts.reload_window_s)
    except redis.RedisError as exc:
        parts.metrics.inc("scanapp_redis_errors_total")
        log.warning("redis failed on the scan path (%s); answering from the database",
                    type(exc).__name__)
    except BucketRebuilding:
        pass  # another worker is reloading this bucket from the database right now
    return parts.fallback.observe(serial, place, parts.reload_window_s)


def _row(ident: Identified, place: ScanPlace, source: str, degraded: bool) -> dict:
    return {"scanned_at": place.at, "serial": ident.ref.serial, "gtin": ident.ref.gtin,
            "lot": ident.ref.lot, "province": place.province, "lat": place.lat,
            "lon": place.lon, "accuracy_m": place.accuracy_m,
            "cell": cell_of(place.lat, place.lon),
            # The row keeps the client's network (the rules' sybil counting reads it back
            # when state is rebuilt), not the rate limiter's per-address key.
            "device_hash": place.device_hash, "client_hash": place.network, "source": source,
            "degraded": degraded}


def _record(parts: ScanComponents, serial: str, row: dict) -> int:
    try:
        return parts.sink.record(row)
    except Exception:
        # Redis already counted a scan the database refused: reload the code's bucket later.
        if isinstance(parts.store, RedisScanStateStore):
            parts.store.mark_stale(serial)
        raise


def _record_counterfeit(app: Flask, parts: ScanComponents, ident: Identified, place: ScanPlace,
                        source: str) -> ScanResult:
    reason = ident.counterfeit_reason or "bad_signature"
    result = ScanResult(Verdict.COUNTERFEIT, [reason], ident)
    result.scan_id = parts.sink.record({
        **_row(ident, place, source, False), "range_id": None,
        "verdict": Verdict.COUNTERFEIT.value, "reasons": [reason], "risk": 100,
        "scan_no": None})
    result.risk = 100
    parts.metrics.inc("scanapp_scans_total", verdict=Verdict.COUNTERFEIT)
    return result


# -- read-only verification (resolver's gs1:verificationService) ------------------------------

def current_verification(app: Flask, ref: StampRef) -> ScanResult:
    """The verdict and counters of a code without recording a scan (safe GET)."""
    parts = services(app).scan
    ident = identify(app, ref)
    if not ident.genuine:
        return ScanResult(Verdict.COUNTERFEIT, [ident.counterfeit_reason or "bad_signature"],
                          ident,
                          risk=100)
    degraded = False
    try:
        history = parts.store.history(ref.serial)
    except (redis.RedisError, BucketRebuilding):
        history, degraded = parts.fallback.history(ref.serial), True
    # The fraud rules over the code's history as it stands (a scan from nowhere, now): a
    # cloned code reads "suspicious" here too, without this request recording anything.
    range_facts = _range_facts(ident)
    facts = ScanFacts(serial=ref.serial, gtin=ref.gtin, place=ScanPlace(at=utcnow()),
                      standing=_STANDING.get(ident.status or "", ident.status or ""))
    assessment = fraud.assess(facts, history, range_facts)
    verdict, reasons = _verdict(ident.status, assessment)
    return ScanResult(verdict, reasons, ident, history, degraded=degraded,
                      risk=assessment.risk, trace=trace_summary(app, ident))


def trace_summary(app: Flask, ident: Identified) -> dict | None:
    """The lot's trace summary from the provider scanapp.trace registered on the app (an
    in-process cache: no database read per scan); None without a lot or trace data."""
    provider = app.extensions.get("scanapp.trace.summary")
    if provider is None or ident.range is None or not ident.range.lot:
        return None
    return provider.get(ident.range.gtin, ident.range.lot)


# -- scratch-off PINs -----------------------------------------------------------------------

@dataclass(frozen=True)
class PinResult:
    result: str  # valid | already_claimed | wrong_pin | counterfeit
    pin_claims: int
    pin_failures: int
    degraded: bool = False
    risk: int = 0
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"result": self.result, "pin_claims": self.pin_claims,
                "pin_failures": self.pin_failures, "degraded": self.degraded,
                "risk": self.risk, "reasons": self.reasons}


def check_pin(app: Flask, code: str, pin: str, device_id: str | None,
              client_address: str | None, user_agent: str = "") -> PinResult:
    """A correct PIN claims the code (first time: ``valid``; again: ``already_claimed``,
    a fraud signal); a wrong one is counted (``wrong_pin``), also a signal.

    A code with ``PIN_LOCKOUT_FAILURES`` wrong PINs inside ``PIN_LOCKOUT_S`` refuses every
    check (429 ``pin_locked``), the right PIN included, whatever the device or address: a
    lock that a lucky guess could pass would not stop guessing. Refused checks are not
    counted, so an attacker gets that many guesses per period and code, no more.

    Counted before stored, like a scan: the store counts the check (in Redis, or from the
    rows so far plus this one), then its row is written. The other order counted the
    first check after a Redis restart twice (issue 15, item 1): the bucket rebuild loaded
    the fresh row and the script then added it again.
    """
    parts = services(app).scan
    ref = parse_scanned(code)
    ident = identify(app, ref)
    if not ident.genuine:
        return PinResult(Verdict.COUNTERFEIT.value, 0, 0)
    if not ident.range.pin_enabled:
        raise InvalidInput("this product's stamps carry no scratch-off PIN",
                           code="pin_not_enabled")
    now = parts.now()
    _refuse_if_locked(app, parts, ref.serial, now)
    ok = serial_pin_matches(ident.seq, pin, app)
    address = client_address or ""
    device = (parts.hasher.device(device_id) if device_id
              else parts.hasher.anonymous_device(address, user_agent))
    network = parts.hasher.network(address)
    row = {"checked_at": now, "serial": ref.serial, "ok": ok, "device_hash": device,
           "client_hash": network}
    claimer = (device, network or "")
    degraded = False
    with parts.store.serialised():
        try:
            history = parts.store.note_pin(ref.serial, ok, claimer)
        except (redis.RedisError, BucketRebuilding):
            history, degraded = parts.fallback.note_pin(ref.serial, ok, claimer), True
        try:
            parts.sink.record_pin(row)
        except Exception:
            if isinstance(parts.store, RedisScanStateStore) and not degraded:
                parts.store.mark_stale(ref.serial)  # counted in Redis, never stored
            raise
    if degraded and isinstance(parts.store, RedisScanStateStore):
        parts.store.mark_stale(ref.serial)  # Redis never saw it: reload once it answers
    # Judged at the PIN check itself: two households claiming one PIN may never scan the
    # code again, so waiting for its next scan could mean never flagging it.
    facts = ScanFacts(serial=ref.serial, gtin=ref.gtin,
                      place=ScanPlace(at=now, device_hash=device, network=network),
                      standing=_STANDING.get(ident.status or "", ident.status or ""),
                      kind="pin")
    range_facts = _range_facts(ident)
    assessment = fraud.assess(facts, history, range_facts)
    if not ok:
        result = "wrong_pin"
    else:
        # The same household entering its PIN again (the buyer the next day, the spouse at
        # home) is not a second claim; an unrelated one is.
        households = fraud.pin_households(facts, history, range_facts)
        result = "valid" if households <= 1 else "already_claimed"
    parts.metrics.inc("scanapp_pin_checks_total", result=result)
    if assessment.flag:
        _flag_later(parts, None, facts, history, range_facts, assessment)
    return PinResult(result, history.pin_claims, history.pin_failures, degraded,
                     risk=assessment.risk, reasons=list(assessment.reasons))


def _refuse_if_locked(app: Flask, parts: ScanComponents, serial: str,
                      now: dt.datetime) -> None:
    limit = int(app.config["PIN_LOCKOUT_FAILURES"])
    period = dt.timedelta(seconds=int(app.config["PIN_LOCKOUT_S"]))
    if limit <= 0:
        return
    failures = parts.fallback.pin_failures_since(serial, now - period, limit)
    if len(failures) < limit:
        return
    parts.metrics.inc("scanapp_pin_checks_total", result="locked")
    # Open again once the oldest of the last ``limit`` failures leaves the period.
    until = failures[-1] + period
    raise RateLimited(
        "Too many wrong PINs were tried on this stamp; PIN checks of this code are paused. "
        "Quá nhiều mã PIN sai đã được thử trên tem này; tạm dừng kiểm tra PIN của mã này.",
        retry_after_s=max((until - now).total_seconds(), 1.0), code="pin_locked")


__all__ = ["verify_scan", "identify", "current_verification", "check_pin", "ScanRequest",
           "ScanResult", "build_components"]
