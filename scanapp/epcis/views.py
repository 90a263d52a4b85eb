"""EPCIS endpoints: the events query (an EPCISDocument per page) and the outbox status."""

from __future__ import annotations

from urllib.parse import urlencode

import marshmallow as ma
from flask import current_app, jsonify, request
from flask.views import MethodView

from ..auth.access import current_principal, requires
from ..auth.models import Role
from ..db import get_session
from ..extensions import Blueprint
from . import exporter, query, recorder
from .cli import register_commands
from .schemas import EventQuerySchema, OutboxStatusSchema
from .settings import capture_endpoint, setting

blp = Blueprint("epcis", __name__, url_prefix="/api/v1/epcis",
                description="EPCIS 2.0 events for the national traceability portal")

# Subscribed once per process, when the app registers this blueprint.
recorder.register()
register_commands(blp.cli)


@blp.before_app_request
def _start_pusher():
    exporter.ensure_pusher(current_app._get_current_object())


@blp.route("/events")
class Events(MethodView):
    @requires(Role.ADMIN, Role.INSPECTOR, Role.BRAND, Role.PRINTER)
    # An unsupported filter is refused, not ignored: ignoring it would return the wrong events.
    @blp.arguments(EventQuerySchema, location="query", unknown=ma.RAISE)
    @blp.response(200, content_type="application/ld+json",
                  description="an EPCISDocument (JSON-LD) with one page of events; "
                  "the next page, if any, is in the Link header (rel=next)")
    def get(self, args):
        """EPCIS events, oldest first: a brand its products', a printer its ranges' lifecycle"""
        flt = query.make_filter(args)
        page = query.query_events(get_session(), current_principal(), flt, args["perPage"],
                                  args.get("nextPageToken"))
        document = query.events_document(page.events,
                                         setting(current_app, "EPCIS_NAMESPACE"))
        headers = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
        if page.next_token:
            params = [(k, v) for k, v in request.args.items(multi=True)
                      if k != "nextPageToken"] + [("nextPageToken", page.next_token)]
            # PUBLIC_BASE_URL, never the Host header: a forged Host must not turn into links.
            next_url = f"{current_app.config['PUBLIC_BASE_URL']}{request.path}?{urlencode(params)}"
            headers["Link"] = f'<{next_url}>; rel="next"'
            document["scanapp:next"] = next_url
        # EPCIS documents are JSON-LD; a Response passes through flask-smorest untouched.
        response = jsonify(document)
        response.mimetype = "application/ld+json"
        response.headers.update(headers)
        return response


@blp.route("/outbox")
class Outbox(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, OutboxStatusSchema)
    def get(self):
        """Delivery to the portal: events waiting, retrying, sent, and the last error"""
        status = exporter.outbox_status(get_session())
        status["capture_url"] = capture_endpoint(current_app)
        return status
