"""The EPCIS 2.0 REST binding at ``/epcis`` (GS1's OpenAPI, gs1/EPCIS "REST Bindings").

Capture (``POST /capture`` -> 202 + Location of the job, ``GET /capture[/{id}]``), single
events (``POST /events`` -> 201, 409 for a stored eventID), queries (``GET /events`` with the
standard parameters, ``/events/{eventID}``, ``/epcs/{epc}/events``, ``/eventTypes``). Every
error under /epcis is an RFC 7807 ``application/problem+json`` with GS1's exception type and,
for documents, the list of problems. Thin views: the work is in ``binding``.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import marshmallow as ma
from flask import current_app, json, request
from flask.views import MethodView
from werkzeug.exceptions import HTTPException

from ..auth.access import current_principal, requires
from ..auth.models import Role
from ..db import get_session
from ..errors import DomainError, http_exception_response, status_for
from ..extensions import Blueprint, Schema
from . import binding
from .capture import paused_gc
from .schemas import Instant
from .settings import setting

blp = Blueprint("epcis_rest", __name__, url_prefix="/epcis",
                description="EPCIS 2.0 REST binding (GS1): capture jobs, events, queries. "
                "Errors are RFC 7807 application/problem+json with GS1 exception types.")

READ_ROLES = (Role.ADMIN, Role.INSPECTOR, Role.BRAND, Role.PRINTER)
# Admins and brands capture; a "producer" role, where the deployment has one (scanapp.trace's
# parties), too. Which locations and GTINs an organisation may write about is the capture
# hooks' decision (scanapp.trace), not the role's.
CAPTURE_ROLES = tuple(r for r in Role if r.value in ("admin", "brand", "producer"))

PROBLEM = "application/problem+json"
# GS1's exception types (the binding's OpenAPI, components/responses).
EXCEPTION_TYPES = {
    400: "epcisException:ValidationException",
    401: "epcisException:SecurityException",
    403: "epcisException:SecurityException",
    404: "epcisException:NoSuchResourceException",
    405: "epcisException:ValidationException",
    406: "epcisException:NotAcceptableException",
    409: "epcisException:ResourceAlreadyExistsException",
    413: "epcisException:CaptureLimitExceededException",
    414: "epcisException:URITooLongException",
    415: "epcisException:UnsupportedMediaTypeException",
    429: "epcisException:ImplementationException",
    500: "epcisException:ImplementationException",
    503: "epcisException:ImplementationException",
}
TITLES = {400: "Invalid request", 401: "Unauthorised request", 403: "Access forbidden",
          404: "Resource not found", 406: "Not acceptable", 409: "Resource already exists",
          413: "Capture payload too large", 415: "Unsupported media type",
          429: "Too many requests", 500: "Implementation exception",
          503: "Service unavailable"}


class ProblemSchema(ma.Schema):
    """RFC 7807 problem details, as every error under /epcis is answered."""

    type = ma.fields.String(required=True, metadata={
        "description": "GS1 exception type, e.g. epcisException:ValidationException"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    instance = ma.fields.String()
    code = ma.fields.String(metadata={"description": "scanapp's machine code"})
    problems = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "every problem found: index, event_id, field (JSON pointer), code, "
                       "message"})


COMMON_ERRORS = (400, 401, 403, 404, 406, 413, 429, 500, 503)


def problems_documented(*extra: int):
    """Document the problem+json answers of an operation (schemathesis checks them)."""
    def decorator(view):
        for status in sorted(set(COMMON_ERRORS + extra)):
            view = blp.alt_response(status, schema=ProblemSchema, content_type=PROBLEM,
                                    description=TITLES.get(status, "Error"))(view)
        return view
    return decorator


def _base_headers() -> dict[str, str]:
    ns = setting(current_app, "EPCIS_NAMESPACE")
    return {"GS1-EPCIS-Version": binding.EPCIS_VERSION, "GS1-CBV-Version": binding.CBV_VERSION,
            "GS1-EPCIS-Min": binding.EPCIS_VERSION, "GS1-EPCIS-Max": binding.EPCIS_VERSION,
            "GS1-Extensions": f"scanapp={ns}"}


def _limits() -> tuple[int, int]:
    """(events per document, bytes): the binding's own limit, never above the app's body
    limit (which scanapp.security enforces before any view runs)."""
    events = binding.capture_limit(current_app.config, "EPCIS_CAPTURE_MAX_EVENTS")
    size = binding.capture_limit(current_app.config, "EPCIS_CAPTURE_MAX_BYTES")
    app_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return events, min(size, app_limit) if app_limit else size


def _limit_headers() -> dict[str, str]:
    events, size = _limits()
    return {"GS1-EPCIS-Capture-Limit": str(events),
            "GS1-EPCIS-Capture-File-Size-Limit": str(size)}


def problem_response(status: int, detail: str, *, type_: str | None = None,
                     title: str | None = None, problems: list | None = None,
                     code: str | None = None, headers: dict | None = None):
    body = {"type": type_ or EXCEPTION_TYPES.get(status, EXCEPTION_TYPES[400]),
            "title": title or TITLES.get(status, "Error"), "status": status,
            "detail": detail, "instance": request.path}
    if code:
        body["code"] = code
    if problems is not None:
        body["problems"] = problems
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM)
    response.headers.update(_base_headers())
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="scanapp"'
    if status == 413:
        response.headers.update(_limit_headers())
    if headers:
        response.headers.update(headers)
    return response


@blp.errorhandler(DomainError)
def _domain_problem(exc: DomainError):
    status = status_for(exc)
    headers = dict(getattr(exc, "headers", None) or {})
    if isinstance(exc, binding.CaptureLimitExceeded):
        status = 413
    elif isinstance(exc, binding.QueryParameterInvalid):
        return problem_response(400, exc.message, code=exc.code,
                                type_="epcisException:QueryParameterException")
    elif status == 422:
        status = 400  # the binding answers 400 for every invalid request
    capture_id = getattr(exc, "capture_id", None)
    if capture_id:
        headers["Location"] = f"{blp.url_prefix}/capture/{capture_id}"
    problems = exc.details if isinstance(exc.details, list) else None
    return problem_response(status, exc.message, code=exc.code, problems=problems,
                            headers=headers)


@blp.errorhandler(HTTPException)
def _http_problem(exc: HTTPException):
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if status == 422 and messages:
        # webargs: unknown or malformed query parameters.
        fields = next(iter(messages.values())) if len(messages) == 1 else messages
        return problem_response(400, "a query parameter is not supported or not valid",
                                type_="epcisException:QueryParameterException",
                                code="query_parameter",
                                problems=[{"field": k, "message": " ".join(map(str, v))
                                           if isinstance(v, list) else str(v)}
                                          for k, v in fields.items()])
    if status == 413:
        _events, size = _limits()
        return problem_response(413, f"the body exceeds {size} bytes "
                                "(GS1-EPCIS-Capture-File-Size-Limit)",
                                code="capture_limit_exceeded")
    return problem_response(status, exc.description or exc.name)


@blp.app_errorhandler(404)
@blp.app_errorhandler(405)
def _unrouted(exc: HTTPException):
    """URLs under /epcis that match no route never reach the blueprint's handlers: answer
    them as problems too; every other path keeps the app's own error shape."""
    if request.path == blp.url_prefix or request.path.startswith(blp.url_prefix + "/"):
        headers = {"Allow": exc.get_response().headers["Allow"]} \
            if exc.code == 405 and "Allow" in exc.get_response().headers else None
        return problem_response(exc.code or 404, exc.description or exc.name,
                                headers=headers)
    return http_exception_response(exc)


@blp.after_request
def _epcis_headers(response):
    """GS1 headers on every answer, and problem+json for errors raised before the view
    (the app's body limit, rate limits) that came back in scanapp's plain error shape."""
    response.headers.update({k: v for k, v in _base_headers().items()
                             if k not in response.headers})
    if request.method == "OPTIONS" and request.path.startswith(f"{blp.url_prefix}/capture"):
        # Discovery (the binding's OPTIONS): a client learns the limits before sending.
        response.headers.update(_limit_headers())
    if response.status_code >= 400 and response.mimetype == "application/json":
        body = response.get_json(silent=True)
        if isinstance(body, dict) and {"status", "code", "message"} <= body.keys():
            converted = problem_response(response.status_code, body["message"],
                                         code=body["code"])
            for name in ("Retry-After", "WWW-Authenticate", "Allow"):
                if name in response.headers:
                    converted.headers[name] = response.headers[name]
            return converted
    return response


@blp.before_request
def _negotiate():
    """The binding's content and version negotiation: JSON(-LD) answers, EPCIS 2.0 only."""
    asked = request.headers.get("GS1-EPCIS-Version")
    if asked and not asked.strip().startswith("2.0"):
        return problem_response(406, f"this repository speaks EPCIS 2.0, not {asked}",
                                code="unsupported_version")
    accept = request.accept_mimetypes
    if accept and not any(accept[m] for m in ("application/json", "application/ld+json",
                                              PROBLEM)):
        return problem_response(406, "answers are application/json or application/ld+json "
                                "(JSON-LD); XML is not offered", code="not_acceptable")
    return None


@blp.record_once
def _hooks_list(state):
    # scanapp.trace appends its hook to this list in its init_app; no global registry.
    state.app.extensions.setdefault(binding.HOOKS_KEY, [])


def _hooks() -> list:
    return current_app.extensions.get(binding.HOOKS_KEY, [])


def _json_body():
    if not request.mimetype or not (request.mimetype in ("application/json",
                                                         "application/ld+json")
                                    or request.mimetype.endswith("+json")):
        return None
    return binding.parse_json(request.get_data(cache=True))


def _json(payload, status: int = 200, headers: dict | None = None, mimetype=None):
    response = current_app.response_class(json.dumps(payload), status=status,
                                          mimetype=mimetype or "application/json")
    response.headers.update(headers or {})
    return response


def _next_link(token: str | None) -> dict[str, str]:
    if not token:
        return {}
    params = [(k, v) for k, v in request.args.items(multi=True) if k != "nextPageToken"]
    params.append(("nextPageToken", token))
    # PUBLIC_BASE_URL, never the Host header: a forged Host must not turn into links.
    base = current_app.config["PUBLIC_BASE_URL"]
    return {"Link": f'<{base}{request.path}?{urlencode(params)}>; rel="next"'}


class PageSchema(Schema):
    perPage = ma.fields.Integer(load_default=binding.DEFAULT_PER_PAGE,
                                validate=ma.validate.Range(1, binding.MAX_PER_PAGE),
                                metadata={"description": "results per page (at most "
                                          f"{binding.MAX_PER_PAGE}; default 30)"})
    nextPageToken = ma.fields.String(validate=ma.validate.Length(1, 200), metadata={
        "description": "from the previous page's Link header (rel=next)"})


def _pipe(description: str):
    return ma.fields.String(validate=ma.validate.Length(1, 4000),
                            metadata={"description": description + " (values separated by |)"})


class EventQueryArgs(PageSchema):
    eventType = _pipe("ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent, "
                      "AssociationEvent")
    GE_eventTime = Instant(metadata={"description": "eventTime at or after (ISO 8601)"})
    LT_eventTime = Instant(metadata={"description": "eventTime before"})
    GE_recordTime = Instant(metadata={"description": "recordTime at or after"})
    LT_recordTime = Instant(metadata={"description": "recordTime before"})
    EQ_action = _pipe("ADD, OBSERVE, DELETE")
    EQ_bizStep = _pipe("CBV business step, bare (shipping) or as a URI")
    EQ_disposition = _pipe("CBV disposition, bare (in_transit) or as a URI")
    EQ_bizLocation = _pipe("business location: SGLN URN or GS1 Digital Link (AI 414)")
    EQ_readPoint = _pipe("read point: SGLN URN or GS1 Digital Link (AI 414)")
    EQ_eventID = _pipe("eventIDs")
    MATCH_epc = _pipe("EPCs in epcList or childEPCs (URN, Digital Link, or "
                      "urn:epc:idpat:sgtin:...* for every item of a GTIN)")
    MATCH_parentID = _pipe("parentID")
    MATCH_inputEPC = _pipe("EPCs in inputEPCList")
    MATCH_outputEPC = _pipe("EPCs in outputEPCList")
    MATCH_anyEPC = _pipe("EPCs in any EPC field, parentID included")
    MATCH_epcClass = _pipe("classes (LGTIN URN or Digital Link /01/{gtin}/10/{lot}) in "
                           "quantityList or childQuantityList")
    MATCH_inputEPCClass = _pipe("classes in inputQuantityList")
    MATCH_outputEPCClass = _pipe("classes in outputQuantityList")
    MATCH_anyEPCClass = _pipe("classes in any quantity list")


def _events_answer(args: dict, extra: dict | None = None):
    query = binding.build_query({**args, **(extra or {})})
    page = binding.query_events(get_session(), current_principal(), query, hooks=_hooks(),
                                per_page=args["perPage"], token=args.get("nextPageToken"))
    document = binding.query_document(page.events, setting(current_app, "EPCIS_NAMESPACE"))
    return _json(document, headers=_next_link(page.next_token),
                 mimetype="application/ld+json")


def _capture(proceed: bool, max_events: int):
    """The posted document captured (its job), or None when the body is not JSON."""
    document = _json_body()
    if document is None:
        return None
    job, _result = binding.capture_document(
        get_session(), current_principal(), document, hooks=_hooks(), proceed=proceed,
        max_events=max_events)
    return job


@blp.route("/capture")
class Capture(MethodView):
    @requires(*CAPTURE_ROLES)
    @problems_documented(415)
    @blp.doc(parameters=[{
        "in": "header", "name": "GS1-Capture-Error-Behaviour", "required": False,
        "schema": {"type": "string", "enum": ["rollback", "proceed"], "default": "rollback"},
        "description": "rollback: nothing is stored if any event fails; proceed: the good "
                       "events are stored"}],
        requestBody={"required": True, "content": {
            "application/ld+json": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}}},
            "description": "an EPCISDocument (or EPCISQueryDocument) in JSON-LD"})
    @blp.response(202, description="captured; Location names the capture job, whose "
                  "success and errors say what was stored")
    def post(self):
        """Capture an EPCISDocument (processed before the answer; the job is kept)"""
        behaviour = (request.headers.get("GS1-Capture-Error-Behaviour") or "rollback")
        behaviour = behaviour.strip().lower()
        if behaviour not in ("rollback", "proceed"):
            raise binding.EpcisValidation("GS1-Capture-Error-Behaviour must be rollback or "
                                          "proceed", [])
        max_events, max_bytes = _limits()
        if request.content_length is not None and request.content_length > max_bytes:
            raise binding.CaptureLimitExceeded(
                f"the document is {request.content_length} bytes; the limit is {max_bytes} "
                "(GS1-EPCIS-Capture-File-Size-Limit)")
        with paused_gc():
            # In a function of its own: the parsed document is freed when it returns, before
            # the collector runs again (else its first pass walks all of it).
            job = _capture(behaviour == "proceed", max_events)
        if job is None:
            return problem_response(415, "send the EPCISDocument as application/ld+json "
                                    "or application/json")
        location = f"{blp.url_prefix}/capture/{job.capture_id}"
        return _json(binding.job_document(job), 202,
                     {"Location": location, **_limit_headers()})

    @requires(*CAPTURE_ROLES)
    @problems_documented()
    @blp.arguments(PageSchema, location="query", unknown=ma.RAISE)
    @blp.response(200, description="the organisation's capture jobs, newest first "
                  "(an admin sees all); next page in the Link header")
    def get(self, args):
        """Capture jobs"""
        jobs, token = binding.list_jobs(get_session(), current_principal(), args["perPage"],
                                        args.get("nextPageToken"))
        return _json([binding.job_document(j) for j in jobs], headers=_next_link(token))


@blp.route("/capture/<string:capture_id>")
class CaptureJob(MethodView):
    @requires(*CAPTURE_ROLES)
    @problems_documented()
    @blp.response(200, description="running, success, captureErrorBehaviour and errors")
    def get(self, capture_id: str):
        """One capture job"""
        job = binding.get_job(get_session(), current_principal(), capture_id)
        return _json(binding.job_document(job))


@blp.route("/events")
class Events(MethodView):
    @requires(*CAPTURE_ROLES)
    @problems_documented(409, 415)
    @blp.doc(requestBody={"required": True, "content": {
        "application/ld+json": {"schema": {"type": "object"}}},
        "description": "one EPCIS event with its own @context"})
    @blp.response(201, description="stored; Location names the event")
    def post(self):
        """Capture one event"""
        event = _json_body()
        if event is None:
            return problem_response(415, "send the event as application/ld+json or "
                                    "application/json")
        if not isinstance(event, dict):
            raise binding.EpcisValidation("an event is a JSON object", [])
        stored = binding.capture_single(get_session(), current_principal(), event, _hooks())
        location = f"{blp.url_prefix}/events/{quote(stored.event_id, safe='')}"
        return _json(stored.body, 201, {"Location": location})

    @requires(*READ_ROLES)
    @problems_documented()
    @blp.arguments(EventQueryArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, content_type="application/ld+json",
                  description="an EPCISQueryDocument with one page of events; the next page "
                  "in the Link header (rel=next)")
    def get(self, args):
        """Query events (the binding's SimpleEventQuery parameters)"""
        return _events_answer(args)


@blp.route("/events/<path:event_id>")
class Event(MethodView):
    @requires(*READ_ROLES)
    @problems_documented()
    @blp.response(200, content_type="application/ld+json",
                  description="an EPCISQueryDocument with the one event")
    def get(self, event_id: str):
        """One event by its eventID (percent-encoded)"""
        body = binding.get_event(get_session(), current_principal(), event_id, _hooks())
        document = binding.query_document([body], setting(current_app, "EPCIS_NAMESPACE"))
        return _json(document, mimetype="application/ld+json")


@blp.route("/epcs/<path:epc>/events")
class EpcEvents(MethodView):
    @requires(*READ_ROLES)
    @problems_documented()
    @blp.arguments(EventQueryArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, content_type="application/ld+json",
                  description="events naming this EPC anywhere (MATCH_anyEPC)")
    def get(self, args, epc: str):
        """Events of one EPC (URN or Digital Link, percent-encoded)"""
        return _events_answer(args, {"MATCH_anyEPC": epc.replace("|", "%7C")})


@blp.route("/eventTypes")
class EventTypes(MethodView):
    @requires(*READ_ROLES)
    @problems_documented()
    @blp.response(200, description="the five EPCIS 2.0 event types this repository stores")
    def get(self):
        """Event types"""
        return _collection(binding.mapping.EVENT_TYPES)


def _collection(members) -> object:
    return _json({"@context": [binding.mapping.EPCIS_CONTEXT], "type": "Collection",
                  "member": list(members)})


@blp.route("/eventTypes/<string:event_type>/events")
class EventTypeEvents(MethodView):
    @requires(*READ_ROLES)
    @problems_documented()
    @blp.arguments(EventQueryArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, content_type="application/ld+json",
                  description="events of this type (eventType)")
    def get(self, args, event_type: str):
        """Events of one type"""
        return _events_answer(args, {"eventType": event_type})


@blp.route("/bizSteps")
class BizSteps(MethodView):
    @requires(*READ_ROLES)
    @problems_documented()
    @blp.response(200, description="the CBV 2.0 business steps (bare words)")
    def get(self):
        """Business steps"""
        return _collection(sorted(binding.mapping.CBV_BIZSTEPS))


@blp.route("/bizSteps/<string:biz_step>/events")
class BizStepEvents(MethodView):
    @requires(*READ_ROLES)
    @problems_documented()
    @blp.arguments(EventQueryArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, content_type="application/ld+json",
                  description="events with this bizStep (EQ_bizStep)")
    def get(self, args, biz_step: str):
        """Events of one business step"""
        return _events_answer(args, {"EQ_bizStep": biz_step})


@blp.route("/dispositions")
class Dispositions(MethodView):
    @requires(*READ_ROLES)
    @problems_documented()
    @blp.response(200, description="the CBV 2.0 dispositions (bare words)")
    def get(self):
        """Dispositions"""
        return _collection(sorted(binding.mapping.CBV_DISPOSITIONS))


@blp.route("/dispositions/<string:disposition>/events")
class DispositionEvents(MethodView):
    @requires(*READ_ROLES)
    @problems_documented()
    @blp.arguments(EventQueryArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, content_type="application/ld+json",
                  description="events with this disposition (EQ_disposition)")
    def get(self, args, disposition: str):
        """Events of one disposition"""
        return _events_answer(args, {"EQ_disposition": disposition})


@blp.route("/bizLocations/<path:location>/events")
class BizLocationEvents(MethodView):
    @requires(*READ_ROLES)
    @problems_documented()
    @blp.arguments(EventQueryArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, content_type="application/ld+json",
                  description="events at this business location (EQ_bizLocation)")
    def get(self, args, location: str):
        """Events at one business location (SGLN URN or Digital Link, percent-encoded)"""
        return _events_answer(args, {"EQ_bizLocation": location.replace("|", "%7C")})


@blp.route("/readPoints/<path:read_point>/events")
class ReadPointEvents(MethodView):
    @requires(*READ_ROLES)
    @problems_documented()
    @blp.arguments(EventQueryArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, content_type="application/ld+json",
                  description="events read at this point (EQ_readPoint)")
    def get(self, args, read_point: str):
        """Events at one read point (SGLN URN or Digital Link, percent-encoded)"""
        return _events_answer(args, {"EQ_readPoint": read_point.replace("|", "%7C")})
