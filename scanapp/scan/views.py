"""HTTP surface of the scan path: the scan API, the GS1 resolver, the stamp page, /metrics.

Views only parse, call ``service`` and shape the answer.
"""

from __future__ import annotations

from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, jsonify, redirect, request
from flask.views import MethodView

from ..errors import NotFound
from ..extensions import Blueprint, limiter
from ..metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from ..serials.stamps import StampRef
from ..services import services
from . import pages, service
from .limits import per_address, pin_per_device, too_many
from .resolver import (
    LINKSET_TYPE,
    InvalidDigitalLink,
    LinkTypeNotFound,
    links_for,
    linkset,
    normalise_link_type,
    parse_item_path,
    resolver_description,
)
from .schemas import PinIn, PinOut, ScanIn, ScanOut

blp = Blueprint("scans", __name__, url_prefix="/api/v1",
                description="Verify stamp scans (public: no API key).")

CORS = {"Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS, POST",
        "Access-Control-Allow-Headers": "Accept, Accept-Language, Content-Type",
        "Access-Control-Expose-Headers": "Link, Location, Retry-After",
        "Access-Control-Max-Age": "86400"}


def _cors(response):
    response.headers.update(CORS)
    return response


blp.after_request(_cors)
blp.register_error_handler(429, too_many)


def _client() -> dict:
    return {"client_address": request.remote_addr,
            "user_agent": request.headers.get("User-Agent", "")[:300]}


@blp.route("/scans")
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
        req = service.ScanRequest(code=data["code"], lat=data.get("lat"), lon=data.get("lon"),
                                  accuracy_m=data.get("accuracy_m"),
                                  device_id=data.get("device_id"), source=data["source"],
                                  rate_limited=True, **_client())
        # A ready response skips the schema's dump (documentation only here): the hot path
        # builds exactly the documented fields, and dumping them again costs per scan.
        return jsonify(service.verify_scan(current_app._get_current_object(), req).to_json())


@blp.route("/scans/pin")
class PinCheck(MethodView):
    decorators = [per_address, pin_per_device]

    @blp.arguments(PinIn)
    @blp.response(200, PinOut)
    def post(self, data):
        """Check the scratch-off PIN of a stamp; a correct PIN claims the code."""
        result = service.check_pin(current_app._get_current_object(), data["code"],
                                   data["pin"], data.get("device_id"), **_client())
        return result.to_json()


@blp.route("/verification/01/<path:rest>")
class Verification(MethodView):
    decorators = [per_address]

    @blp.response(200, ScanOut)
    def get(self, rest):
        """The current verdict and counters of a code, recording nothing (the resolver's
        ``gs1:verificationService`` link)."""
        item = parse_item_path("/01/" + rest)
        if not item.serial:
            raise InvalidDigitalLink("verification needs a serial (/21/...)")
        ref = StampRef(item.gtin, item.serial, item.lot, None)
        return service.current_verification(current_app._get_current_object(), ref).to_json()



# -- resolver and stamp page (plain blueprint, outside the OpenAPI document) ------------------

resolver_bp = FlaskBlueprint("resolver", __name__, template_folder="templates",
                             static_folder="static", static_url_path="/scan-static")
resolver_bp.after_request(_cors)
resolver_bp.register_error_handler(429, too_many)


@resolver_bp.route("/01/<path:rest>", methods=["GET", "HEAD", "OPTIONS"],
                   provide_automatic_options=False)
def resolve(rest: str):
    if request.method == "OPTIONS":
        return Response(status=204, headers={"Allow": "GET, HEAD, OPTIONS"})
    item = parse_item_path("/01/" + rest)
    product = services().scan.catalog.by_gtin(item.gtin)
    if product is None:
        raise NotFound(f"no product with GTIN {item.gtin} is registered here",
                       code="unknown_gtin")
    base = current_app.config["PUBLIC_BASE_URL"]
    anchor = base + item.path()
    links = links_for(base, item)
    linkset_url = anchor + "?linkType=linkset"
    headers = {"Vary": "Accept, Accept-Language",
               "Link": f'<{linkset_url}>; rel="linkset"; type="{LINKSET_TYPE}"'}
    wanted = request.args.get("linkType")
    if wanted is not None:
        wanted = normalise_link_type(wanted)
    wants_linkset = _explicitly_accepts(LINKSET_TYPE)
    if wanted in ("linkset", "all") or (wanted is None and wants_linkset and (
            request.accept_mimetypes[LINKSET_TYPE] >= request.accept_mimetypes["text/html"])):
        response = jsonify(linkset(anchor, links))
        response.mimetype = LINKSET_TYPE
        response.headers.update(headers)
        return response
    if wanted is None and _explicitly_accepts("text/html"):
        response = pages.render_page(item, product)
        response.headers.update(headers)
        return response
    target = links[0] if wanted in (None, "defaultLink") else next(
        (link for link in links if link.link_type == wanted), None)
    if target is None:
        raise LinkTypeNotFound(f"this item has no link of type {request.args['linkType']!r}")
    query = _passed_on_query()
    response = redirect(target.href + (("?" + query) if query else ""), code=307)
    response.headers.update(headers)
    return response


def _explicitly_accepts(mimetype: str) -> bool:
    """Named in the Accept header with a non-zero quality (``*/*`` alone does not count:
    a generic client gets the redirect, as a GS1 resolver gives)."""
    accept = request.accept_mimetypes
    return any(value == mimetype and quality > 0 for value, quality in accept)


def _passed_on_query() -> str:
    """The request's query string minus the resolver's own ``linkType`` parameter."""
    from urllib.parse import urlencode

    kept = [(k, v) for k, v in request.args.items(multi=True) if k != "linkType"]
    return urlencode(kept)


@resolver_bp.route("/v/01/<path:rest>", methods=["GET", "POST"])
def stamp_page(rest: str):
    """The verification page (default link). POST is the no-JavaScript fallback: the form
    records the scan (without location) and the answer is rendered on the server."""
    item = parse_item_path("/01/" + rest)
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
def metrics():
    return Response(services().metrics.render(), content_type=METRICS_CONTENT_TYPE,
                    headers={"Cache-Control": "no-store"})


per_address(resolver_bp)
PLAIN_BLUEPRINTS = (resolver_bp,)
__all__ = ["blp", "PLAIN_BLUEPRINTS"]
