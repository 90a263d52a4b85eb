"""HTTP surface of the scan path: the scan API, the GS1 resolver, the stamp page, /metrics.

Views only parse, call ``service`` and shape the answer.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, jsonify, request
from flask.views import MethodView

from ..errors import NotFound
from ..extensions import Blueprint, limiter
from ..metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from ..security import body_limit, metrics_guard
from ..serials.stamps import StampRef
from ..services import services
from . import pages, service
from .digital_link import partially_compressed, uncompressed_parts
from .limits import PIN_ENDPOINT, check_pin_limits, device_id, per_address, too_many
from .resolver import (
    JSONLD_CONTEXT,
    LINKSET_TYPE,
    InvalidDigitalLink,
    LinkTypeNotFound,
    normalise_link_type,
    parse_item_path,
    resolve_item,
    resolver_description,
)
from .schemas import PinIn, PinOut, ScanIn, ScanOut

blp = Blueprint("scans", __name__, url_prefix="/api/v1",
                description="Verify stamp scans (public: no API key).")

CORS = {"Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS, POST",
        "Access-Control-Allow-Headers": "Accept, Accept-Language, Content-Type",
        "Access-Control-Expose-Headers": "Link, Location, Retry-After, Resolved-Anchor, Walked-Up",
        "Access-Control-Max-Age": "86400"}


def _cors(response):
    response.headers.update(CORS)
    return response


blp.after_request(_cors)
blp.register_error_handler(429, too_many)

# Scans count their rate limit inside the scan (scan/limits.py); these two make a request
# that never becomes a scan count as well, and refuse a flooding address before its body
# is parsed (issue 15, item 6).
_REFUSED_BODY = frozenset({400, 413, 415, 422})


@blp.before_request
def _refuse_flooding_address():
    if request.endpoint == "scans.Scans":
        service.refuse_if_flooding(current_app._get_current_object(), request.remote_addr)
    elif request.endpoint == PIN_ENDPOINT:
        check_pin_limits(current_app._get_current_object(), request.remote_addr, device_id())


@blp.after_request
def _count_refused_body(response):
    if request.endpoint == "scans.Scans" and response.status_code in _REFUSED_BODY:
        service.count_refused_request(current_app._get_current_object(), request.remote_addr)
    return response


@blp.route("/scans")
@body_limit()
class Scans(MethodView):
    # Rate-limited inside the scan's own Redis round trip (scan/limits.py), not by a
    # decorator: Flask-Limiter would spend a round trip of its own.
    # A schema instance, not the class: webargs would build a new Schema on every scan.
    @blp.arguments(ScanIn())
    @blp.response(200, ScanOut)
    def post(self, data):
        """Verify and record one scan of a stamp.

        Coordinates go in this body (never in a URL, so they stay out of access logs). A
        repeat by the same device inside the reload window answers ``repeat: true`` and is
        not counted again.
        """
        # Production serves this operation from scan/lean.py (below Flask, same schema,
        # same service call); this view documents it and answers whatever the lean route
        # hands on (every malformed or refused body), so errors have one definition.
        req = scan_request(data, request.remote_addr, request.headers.get("User-Agent", ""))
        # A ready response skips the schema's dump (documentation only here): the hot path
        # builds exactly the documented fields, and dumping them again costs per scan.
        return jsonify(service.verify_scan(current_app._get_current_object(), req).to_json())


def scan_request(data: dict, client_address: str | None, user_agent: str) -> service.ScanRequest:
    """The scan a validated ``ScanIn`` body asks for (this view's and the lean route's)."""
    return service.ScanRequest(code=data["code"], lat=data.get("lat"), lon=data.get("lon"),
                               accuracy_m=data.get("accuracy_m"),
                               device_id=data.get("device_id"), source=data["source"],
                               rate_limited=True, client_address=client_address,
                               user_agent=user_agent[:300])


@blp.route("/scans/pin")
@body_limit()
class PinCheck(MethodView):
    # Rate-limited by the blueprint's before_request (limits.check_pin_limits), before the
    # body is parsed; production serves valid bodies from scan/lean.py, as for scans.
    @blp.arguments(PinIn)
    @blp.response(200, PinOut)
    def post(self, data):
        """Check the scratch-off PIN of a stamp; a correct PIN claims the code."""
        return pin_check(current_app._get_current_object(), data, request.remote_addr,
                         request.headers.get("User-Agent", ""))


def pin_check(app, data: dict, client_address: str | None, user_agent: str) -> dict:
    """The answer to a validated ``PinIn`` body (this view's and the lean route's)."""
    return service.check_pin(app, data["code"], data["pin"], data.get("device_id"),
                             client_address=client_address,
                             user_agent=user_agent[:300]).to_json()


@blp.route("/verification/01/<path:rest>")
class Verification(MethodView):
    decorators = [per_address]

    @blp.response(200, ScanOut)
    def get(self, rest):
        """The current verdict and counters of a code, recording nothing (the resolver's
        ``gs1:verificationService`` link)."""
        item = parse_item_path(_raw_item_path("/api/v1/verification"), _raw_query())
        if not item.serial:
            raise InvalidDigitalLink("verification needs a serial (/21/...)")
        ref = StampRef(item.gtin, item.serial, item.lot, None)
        return service.current_verification(current_app._get_current_object(), ref).to_json()



# -- resolver and stamp page (plain blueprint, outside the OpenAPI document) ------------------

resolver_bp = FlaskBlueprint("resolver", __name__, template_folder="templates",
                             static_folder="static", static_url_path="/scan-static")
resolver_bp.after_request(_cors)
# Browsers get a page for every outcome (malformed link, unknown product, 429, outage);
# API clients keep the JSON error shape.
pages.register_error_pages(resolver_bp, too_many)


@resolver_bp.route("/01/<path:rest>", methods=["GET", "HEAD", "OPTIONS"],
                   provide_automatic_options=False)
def resolve(rest: str):
    """GS1-Conformant resolver for GTIN Digital Links (the stamp URI itself)."""
    path, query = _raw_item_path(""), _raw_query()
    partial = partially_compressed(path)
    if partial is not None:
        return _compressed_answer(*partial)
    return _resolver_answer(path, query)


@resolver_bp.route("/<segment>", methods=["GET", "HEAD", "OPTIONS"],
                   provide_automatic_options=False)
def compressed(segment: str):
    """A compressed GS1 Digital Link URI: decompressed, then answered like the uncompressed
    one, with ``Link: <uncompressed URI>; rel="owl:sameAs"``."""
    return _compressed_answer(*uncompressed_parts(segment))


def _compressed_answer(path: str, query: str):
    base = current_app.config["PUBLIC_BASE_URL"]
    same_as = base + path + (("?" + query) if query else "")
    raw = _raw_query()
    return _resolver_answer(path, "&".join(q for q in (query, raw) if q), same_as=same_as,
                            passed_on=raw)


def _resolver_answer(path: str, query: str, same_as: str | None = None,
                     passed_on: str | None = None):
    base = current_app.config["PUBLIC_BASE_URL"]
    links = [f'<{same_as}>; rel="owl:sameAs"'] if same_as else []
    if request.method == "OPTIONS":
        # A CORS preflight must succeed even for a URI the GET will refuse with 400.
        try:
            item = parse_item_path(path, query)
            links.append(_linkset_link(base + item.path()))
        except InvalidDigitalLink:
            pass
        headers = {"Allow": "GET, HEAD, OPTIONS"}
        if links:
            headers["Link"] = ", ".join(links)
        return Response(status=204, headers=headers)
    item = parse_item_path(path, query)  # the whole URI is checked before any lookup
    res = resolve_item(current_app._get_current_object(), base, item)
    product = res.product
    links.append(_linkset_link(base + item.path()))
    headers = {"Vary": "Accept, Accept-Language", "Link": ", ".join(links),
               "Resolved-Anchor": res.anchor}
    if res.walked_up:
        headers["Walked-Up"] = res.walked_up
    wanted = item.params.get("linkType")
    if wanted is not None:
        wanted = normalise_link_type(wanted)
    wants_linkset = _explicitly_accepts(LINKSET_TYPE)
    if wanted in ("linkset", "all") or (wanted is None and wants_linkset and (
            request.accept_mimetypes[LINKSET_TYPE] >= request.accept_mimetypes["text/html"])):
        response = jsonify(res.linkset())
        response.mimetype = LINKSET_TYPE
        headers["Link"] += (f', <{JSONLD_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"'
                            '; type="application/ld+json"')
        response.headers.update(headers)
        return response
    if wanted is None and _explicitly_accepts("text/html"):
        response = pages.render_page(item, product)
        response.headers.update(headers)
        return response
    if wanted in (None, "defaultLink"):
        target = res.default_link()
    else:
        languages = [lang.split("-")[0].lower() for lang, q in request.accept_languages if q]
        media = [m for m, q in request.accept_mimetypes if q and "*" not in m]
        target = res.find(wanted, languages, media)
    if target is None:
        raise LinkTypeNotFound(f"this item has no link of type {item.params['linkType']!r}")
    # The request's query string goes on byte for byte: order and encoding kept.
    query = item.query if passed_on is None else passed_on
    location = target.href + (("&" if "?" in target.href else "?") + query if query else "")
    headers["Location"] = location
    return Response(status=307, headers=headers)


def _linkset_link(anchor: str) -> str:
    return f'<{anchor}?linkType=linkset>; rel="linkset"; type="{LINKSET_TYPE}"'


def _raw_query() -> str:
    return request.query_string.decode("utf-8", "replace")


def _raw_item_path(prefix: str) -> str:
    """The request path as sent (percent-encoding intact, so an encoded '/' inside a
    serial stays inside it), from ``/01/`` on."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        raw = raw.split("?", 1)[0]
        if "://" in raw:  # absolute-form request target
            raw = "/" + raw.split("://", 1)[1].partition("/")[2]
        if request.script_root and raw.startswith(request.script_root):
            raw = raw[len(request.script_root):]
    else:
        raw = quote(request.path, safe="/")
    return raw[len(prefix):] if prefix and raw.startswith(prefix) else raw


def _explicitly_accepts(mimetype: str) -> bool:
    """Named in the Accept header with a non-zero quality (``*/*`` alone does not count:
    a generic client gets the redirect, as a GS1 resolver gives)."""
    accept = request.accept_mimetypes
    return any(value == mimetype and quality > 0 for value, quality in accept)


@resolver_bp.route("/v/01/<path:rest>", methods=["GET", "POST"])
def stamp_page(rest: str):
    """The verification page (default link). POST is the no-JavaScript fallback: the form
    records the scan (without location) and the answer is rendered on the server."""
    item = parse_item_path(_raw_item_path("/v"), _raw_query())
    product = services().scan.catalog.by_gtin(item.gtin)
    if product is None:
        raise NotFound(f"no product with GTIN {item.gtin} is registered here",
                       code="unknown_gtin")
    if request.method == "POST":
        return pages.render_page(item, product, record=True)
    return pages.render_page(item, product)


@resolver_bp.get("/.well-known/gs1resolver")
def gs1resolver():
    return jsonify(resolver_description(current_app.config["PUBLIC_BASE_URL"]))


@resolver_bp.get("/metrics")
@limiter.exempt
@metrics_guard
def metrics():
    return Response(services().metrics.render(), content_type=METRICS_CONTENT_TYPE,
                    headers={"Cache-Control": "no-store"})


per_address(resolver_bp)
PLAIN_BLUEPRINTS = (resolver_bp,)
__all__ = ["blp", "PLAIN_BLUEPRINTS"]
