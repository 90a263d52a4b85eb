"""Authorization matrix over every endpoint the app serves, discovered from its url_map.

Every (method, endpoint) must be classified below: public, dashboard (session sign-in), or
keyed with the roles allowed. A new endpoint that is not classified fails
``test_every_endpoint_is_classified``, so nobody ships an endpoint whose access rule was
never decided. Then, for every keyed endpoint: no key, a wrong key, a malformed header and a
revoked key are 401; a role outside the allowed set is 403; an allowed role gets past auth.
Object-level isolation (a printer never sees another printer's range, a brand never another
brand's product) is tested with real objects at the end.
"""

from __future__ import annotations

import pytest

from scanapp.auth.models import Role

from .conftest import issue_range, serials_of

# Every role of the keyed API; a province authority reads through /api/v1/authority (its
# own, province-scoped views) and is granted nothing else.
ALL = frozenset(Role) - {Role.AUTHORITY}
# Any key at all: its own identity and keys, and ranges, of which an authority holds none.
EVERY_KEY = frozenset(Role)
ADMIN, BRAND, PRINTER, INSPECTOR = Role.ADMIN, Role.BRAND, Role.PRINTER, Role.INSPECTOR
AUTHORITY = Role.AUTHORITY

# Public by design, with the reason.
PUBLIC = {
    "health.healthz": "liveness probe",
    "health.readyz": "readiness probe (says which dependency is down, nothing more)",
    "api-docs.openapi_json": "the API's own description",
    "api-docs.openapi_swagger_ui": "interactive docs page",
    "swagger_ui_static": "docs page assets",
    "static": "static files",
    "resolver.resolve": "GS1 resolver: what a phone opens from the stamp",
    "resolver.compressed": "GS1 resolver: compressed Digital Link URIs",
    "resolver.gs1resolver": "GS1 resolver description (/.well-known/gs1resolver)",
    "resolver.stamp_page": "the consumer verification page",
    "resolver.static": "verification page assets",
    "resolver.metrics": "Prometheus scrape target (metrics_guard: scrape network or token)",
    "scans.Scans": "consumers verify stamps without an account",
    "scans.PinCheck": "consumers check a scratch-off PIN without an account",
    "scans.Verification": "GS1 verificationService link type (JSON verdict)",
    "trace.PublicLot": "gs1:traceability: a lot's Circular 02/2024 items, open by law",
    "trace.PublicLotCertificates": "gs1:certificationInfo of a lot (valid ones only)",
    "trace.PublicLotRecall": "gs1:recallStatus of a lot",
    "trace.PublicProductCertificates": "gs1:certificationInfo of a product",
    "inspect.login": "dashboard sign-in form",
    "inspect.static": "dashboard assets",
    "field.static": "the field pages' script (geolocation, photo preview)",
    "consumer_reports.submit_form": "the stamp page's report form (rate limited)",
    "authority_pages.login": "the authorities' sign-in form",
}
# Public for one method only: filing a report; reading the queue needs a key (KEYED).
PUBLIC_METHODS = {("POST", "reports.Reports"): "consumers file reports without an account"}

# The inspector dashboard: signed-in session (from an inspector or admin key) or redirect.
DASHBOARD = {"inspect.queue", "inspect.dossier", "inspect.export_csv", "inspect.case_action",
             "inspect.logout", "inspect.hotspot", "consumer_reports.inspect_report",
             # Unknown workspace addresses: the sign-in first, then the workspace's own 404.
             "inspect.unknown_page", "inspect.lot_lineage", "inspect.lot_export",
             # In the field (scanapp/fraud/field.py): inspections, stamp checks, evidence.
             "field.new_inspection", "field.save_inspection", "field.inspection",
             "field.inspection_photo", "field.check", "field.evidence_page",
             "field.evidence_pdf", "field.verify",
             "consumer_reports.inspect_report_photo",
             # The authorities' pages: signed-in sessions of authority keys (and CSRF).
             "authority_pages.logout", "authority_pages.queue", "authority_pages.decide",
             "authority_pages.finding_list", "authority_pages.finding",
             "authority_pages.statistics", "authority_pages.report_file"}

FRAUD_READERS = frozenset({INSPECTOR, ADMIN, BRAND})
ISSUERS = frozenset({PRINTER, BRAND, ADMIN})
TRACE_READERS = frozenset({ADMIN, BRAND, INSPECTOR})
TRACE_WRITERS = frozenset({ADMIN, BRAND})

AUTHORITY_READERS = frozenset({AUTHORITY, ADMIN})
REVIEW_READERS = frozenset({AUTHORITY, ADMIN, BRAND})  # a firm reads its own items' reasons

KEYED: dict[tuple[str, str], frozenset[Role]] = {
    # The authorities' side (docs/AUTHORITY.md): a province authority or an admin reads;
    # only an authority decides; the firm answers a rejection.
    **{("GET", f"authority.{name}"): AUTHORITY_READERS for name in (
        "parties", "locations", "products", "lots", "events", "Policy", "rule_list",
        "finding_list", "finding_item", "statistics", "report_pdf", "report_xlsx")},
    ("GET", "authority.reviews"): REVIEW_READERS,
    ("GET", "authority.review_item"): REVIEW_READERS,
    **{(method, f"authority.{name}"): frozenset({AUTHORITY}) for method, name in (
        ("POST", "approve"), ("POST", "reject"), ("PUT", "Policy"), ("POST", "finding_case"),
        ("POST", "finding_dismiss"))},
    ("POST", "authority.answer"): frozenset({BRAND}),
    ("GET", "auth.Me"): EVERY_KEY,
    ("GET", "auth.Keys"): EVERY_KEY,
    ("POST", "auth.Keys"): frozenset({ADMIN}),
    ("POST", "auth.RevokeKey"): EVERY_KEY,
    ("GET", "auth.Orgs"): frozenset({ADMIN}),
    ("PUT", "auth.OrgGs1Prefixes"): frozenset({ADMIN}),
    ("GET", "products.Products"): ALL,
    ("POST", "products.Products"): frozenset({BRAND, ADMIN}),
    ("GET", "products.ProductItem"): ALL,
    ("PATCH", "products.ProductItem"): frozenset({BRAND, ADMIN}),
    ("GET", "serials.Ranges"): EVERY_KEY,
    ("POST", "serials.Ranges"): ISSUERS,
    ("GET", "serials.RangeItem"): EVERY_KEY,
    ("GET", "serials.RangeHistory"): EVERY_KEY,
    ("POST", "serials.RangeStep"): ISSUERS,
    # Serials (and PINs) leave the system only for those who print or own them.
    ("GET", "serials.RangeCodes"): ISSUERS,
    ("GET", "serials.RangeCodesChecksum"): ISSUERS,
    ("GET", "serials.CodeQr"): ISSUERS,
    ("GET", "serials.RangeLabels"): ISSUERS,
    ("GET", "serials.SigningKeys"): frozenset({ADMIN}),
    ("POST", "serials.RotateKey"): frozenset({ADMIN}),
    ("POST", "serials.CompromiseKey"): frozenset({ADMIN}),
    ("GET", "serials.Authorisations"): frozenset({BRAND, PRINTER, ADMIN}),
    ("POST", "serials.Authorisations"): frozenset({BRAND, ADMIN}),
    ("POST", "serials.RevokeAuthorisation"): frozenset({BRAND, ADMIN}),
    ("GET", "epcis.Events"): ALL,
    ("GET", "epcis.Outbox"): frozenset({ADMIN}),
    # The EPCIS 2.0 binding: authorities, brands and printers read (each what it may see);
    # admins and brands capture (what about, decided by scanapp.trace's capture hook).
    ("POST", "epcis_rest.Capture"): frozenset({BRAND, ADMIN}),
    ("GET", "epcis_rest.Capture"): frozenset({BRAND, ADMIN}),
    ("GET", "epcis_rest.CaptureJob"): frozenset({BRAND, ADMIN}),
    ("POST", "epcis_rest.Events"): frozenset({BRAND, ADMIN}),
    ("GET", "epcis_rest.Events"): ALL,
    ("GET", "epcis_rest.Event"): ALL,
    ("GET", "epcis_rest.EpcEvents"): ALL,
    ("GET", "epcis_rest.EventTypes"): ALL,
    ("GET", "epcis_rest.EventTypeEvents"): ALL,
    ("GET", "epcis_rest.BizSteps"): ALL,
    ("GET", "epcis_rest.BizStepEvents"): ALL,
    ("GET", "epcis_rest.Dispositions"): ALL,
    ("GET", "epcis_rest.DispositionEvents"): ALL,
    ("GET", "epcis_rest.BizLocationEvents"): ALL,
    ("GET", "epcis_rest.ReadPointEvents"): ALL,
    # Origin traceability (scanapp.trace): brands manage their own master data and record
    # events; authorities read all; object-level rules are in tests/trace.
    **{("GET", f"trace.{name}"): TRACE_READERS for name in (
        "Parties", "PartyItem", "Locations", "LocationItem", "Certificates",
        "CertificateItem", "Lots", "LotItem", "Partners", "LotOneStep", "LotLineageBackward",
        "LotLineageForward", "LotExport")},
    **{("POST", f"trace.{name}"): TRACE_WRITERS for name in (
        "Parties", "Locations", "Certificates", "Lots", "Partners", "RecordHarvest",
        "RecordProduction", "RecordTransformation", "RecordPacking", "RecordShipment",
        "RecordReceipt")},
    **{("PATCH", f"trace.{name}"): TRACE_WRITERS for name in (
        "PartyItem", "LocationItem", "LotItem")},
    ("DELETE", "trace.PartnerItem"): TRACE_WRITERS,
    ("POST", "trace.RecordInspection"): TRACE_READERS,
    ("POST", "trace.CertificateRevoke"): TRACE_READERS,
    ("POST", "trace.LotRecall"): TRACE_READERS,
    ("GET", "fraud.Flags"): FRAUD_READERS,
    ("GET", "fraud.FlagItem"): FRAUD_READERS,
    ("POST", "fraud.FlagCase"): FRAUD_READERS,
    ("GET", "fraud.CodeDossier"): FRAUD_READERS,
    ("POST", "fraud.Inspections"): frozenset({INSPECTOR, ADMIN}),
    ("GET", "fraud.Hotspots"): FRAUD_READERS,
    ("GET", "fraud.Webhook"): frozenset({BRAND}),
    ("PUT", "fraud.Webhook"): frozenset({BRAND}),
    ("GET", "fraud.WebhookDeliveries"): frozenset({BRAND}),
    # Consumer reports carry reporters' phone numbers: inspectors only.
    ("GET", "reports.Reports"): frozenset({INSPECTOR, ADMIN}),
    ("GET", "reports.ReportItem"): frozenset({INSPECTOR, ADMIN}),
    ("GET", "reports.ReportPhoto"): frozenset({INSPECTOR, ADMIN}),
}

# Ids that exist nowhere, so an allowed caller reaches the view and gets a 404 or 422
# without changing anything that exists (no key revoked, no range stepped).
DUMMY_INT, DUMMY_TEXT = 987654, "ZZZZZZZZZZZZZZZZZZZZ"


def routes(app):
    """(method, endpoint, concrete url) for every rule of the app."""
    from werkzeug.routing import AnyConverter, IntegerConverter

    out = []
    for rule in app.url_map.iter_rules():
        values = {}
        for name in rule.arguments:
            converter = rule._converters[name]
            if isinstance(converter, AnyConverter):
                values[name] = sorted(converter.items)[0]
            elif isinstance(converter, IntegerConverter):
                values[name] = DUMMY_INT
            else:
                values[name] = DUMMY_TEXT
        url = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, rule.endpoint, url))
    return out


def call(actor, method: str, url: str):
    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    response = actor.client.open(url, method=method, headers=actor._headers({}), **kwargs)
    response.close()
    return response


@pytest.mark.no_storage
def test_every_endpoint_is_classified(app):
    unclassified = []
    for method, endpoint, url in routes(app):
        if endpoint in PUBLIC or endpoint in DASHBOARD or (method, endpoint) in KEYED \
                or (method, endpoint) in PUBLIC_METHODS:
            continue
        unclassified.append(f"{method} {url} ({endpoint})")
    assert not unclassified, ("decide who may call these and add them to the matrix:\n"
                              + "\n".join(unclassified))
    served = {(m, e) for m, e, _ in routes(app)}
    stale = [k for k in KEYED if k not in served]
    assert not stale, f"the matrix lists endpoints the app no longer serves: {stale}"


@pytest.fixture
def bad_callers(app, make_actor, client):
    from tests.conftest import Actor

    revoked = make_actor("admin", "Revoked Org")
    assert revoked.post(f"/api/v1/keys/{revoked.key_id}/revoke").status_code == 200
    well_formed_but_unknown = "sa_0123456789_" + "A" * 43
    admin_prefix_wrong_secret = revoked.key[:14] + "B" * 43
    return {
        "no key": (Actor(client, None), "missing_api_key"),
        "wrong key": (Actor(client, well_formed_but_unknown), "invalid_api_key"),
        "known prefix, wrong secret": (Actor(client, admin_prefix_wrong_secret),
                                       "invalid_api_key"),
        "revoked key": (revoked, "revoked_api_key"),
        "not bearer": (Actor(client, None), "bad_authorization_header"),
    }


def test_keyed_endpoints_refuse_missing_wrong_and_revoked_keys(app, bad_callers):
    wrong = []
    for method, endpoint, url in routes(app):
        if (method, endpoint) not in KEYED:
            continue
        for label, (actor, code) in bad_callers.items():
            if label == "not bearer":
                actor = type(actor)(actor.client, None)
                response = actor.client.open(url, method=method,
                                             headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
                response.close()
            else:
                response = call(actor, method, url)
            body = response.get_json(silent=True) or {}
            if response.status_code != 401 or body.get("code") != code \
                    or "Bearer" not in response.headers.get("WWW-Authenticate", ""):
                wrong.append(f"{label}: {method} {url} -> {response.status_code} "
                             f"{body.get('code')}")
    assert not wrong, "\n".join(wrong)


def test_every_role_gets_exactly_the_access_the_matrix_grants(app, make_actor, authority):
    actors = {role: make_actor(role.value, f"Matrix {role.value}") for role in Role
              if role is not Role.AUTHORITY}
    actors[Role.AUTHORITY] = authority  # an authority key needs its province (CLI)
    wrong = []
    for method, endpoint, url in routes(app):
        allowed = KEYED.get((method, endpoint))
        if allowed is None:
            continue
        for role, actor in actors.items():
            response = call(actor, method, url)
            if role in allowed and response.status_code in (401, 403):
                wrong.append(f"{role.value} refused: {method} {url} -> {response.status_code}")
            elif role not in allowed and response.status_code != 403:
                wrong.append(f"{role.value} let in: {method} {url} -> {response.status_code}")
            elif response.status_code >= 500:
                wrong.append(f"{role.value}: {method} {url} -> {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_public_endpoints_answer_without_a_key(app, anonymous):
    for method, endpoint, url in routes(app):
        if endpoint not in PUBLIC:
            continue
        response = call(anonymous, method, url)
        assert response.status_code not in (401, 403), (method, url, response.status_code)
        assert response.status_code < 500, (method, url, response.status_code)


@pytest.mark.no_storage
def test_dashboard_pages_need_a_signed_in_session(app, anonymous, make_actor):
    for method, endpoint, url in routes(app):
        if endpoint not in DASHBOARD:
            continue
        response = call(anonymous, method, url)
        # A GET goes to the sign-in page; a POST without its CSRF token is refused.
        assert response.status_code in (302, 303, 400, 401, 403), (method, url)
        if response.status_code in (302, 303):
            # Each workspace signs in on its own page.
            sign_in = "/authority/login" if endpoint.startswith("authority") else "/inspect/login"
            assert sign_in in response.headers["Location"], (url, response.headers["Location"])


def test_dashboard_session_ends_when_its_key_is_revoked(app, client, make_actor, admin):
    inspector = make_actor("inspector", "Inspectorate R")
    login = client.get("/inspect/login")
    html = login.get_data(as_text=True)
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    signed_in = client.post("/inspect/login", data={"key": inspector.key, "csrf_token": token})
    assert signed_in.status_code in (302, 303)
    assert client.get("/inspect/").status_code == 200
    assert admin.post(f"/api/v1/keys/{inspector.key_id}/revoke").status_code == 200
    after = client.get("/inspect/")
    assert after.status_code in (302, 303) and "/inspect/login" in after.headers["Location"]


def test_dashboard_refuses_brand_and_printer_keys(client, make_actor):
    for role in ("brand", "printer"):
        actor = make_actor(role, f"Dash {role}")
        html = client.get("/inspect/login").get_data(as_text=True)
        token = html.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/inspect/login", data={"key": actor.key, "csrf_token": token})
        response = client.get("/inspect/")
        assert response.status_code in (302, 303), role


# -- object-level isolation ---------------------------------------------------------------

def test_a_brand_never_sees_or_changes_another_brands_product(brand, other_brand, product):
    pid = product["id"]
    assert other_brand.get("/api/v1/products").get_json() == []
    assert other_brand.get(f"/api/v1/products/{pid}").status_code == 404
    assert other_brand.patch(f"/api/v1/products/{pid}", json={"name": "mine"}).status_code == 404
    assert other_brand.post("/api/v1/ranges",
                            json={"gtin": product["gtin"], "quantity": 1}).status_code in (
                                403, 404, 422)
    assert brand.get(f"/api/v1/products/{pid}").get_json()["name"] == product["name"]


def test_a_printer_never_sees_another_printers_range(brand, make_actor, authorise, product):
    p1 = authorise(make_actor("printer", "Printer One"))
    p2 = authorise(make_actor("printer", "Printer Two"))
    rng = issue_range(p1, product["gtin"], quantity=3, steps=("print",))
    serial = serials_of(p1, rng["id"])[0]
    rid = rng["id"]
    assert [r["id"] for r in p2.get("/api/v1/ranges").get_json()] == []
    for url in (f"/api/v1/ranges/{rid}", f"/api/v1/ranges/{rid}/history",
                f"/api/v1/ranges/{rid}/codes.csv", f"/api/v1/ranges/{rid}/codes.txt",
                f"/api/v1/ranges/{rid}/codes.csv.sha256", f"/api/v1/ranges/{rid}/labels.pdf",
                f"/api/v1/ranges/{rid}/codes/{serial}/qr.svg"):
        with p2.get(url) as response:
            assert response.status_code == 404, (url, response.status_code)
            assert serial not in response.get_data(as_text=True)
    for action in ("print", "void"):
        assert p2.post(f"/api/v1/ranges/{rid}/{action}", json={}).status_code == 404
    # The epcis feed must not leak the range's codes either.
    with p2.get("/api/v1/epcis/events") as events:
        assert serial not in events.get_data(as_text=True)
    # And its owner still sees it all.
    assert p1.get(f"/api/v1/ranges/{rid}").status_code == 200


def test_a_brand_never_sees_another_brands_range(brand, other_brand, product):
    rng = issue_range(brand, product["gtin"], quantity=2, steps=())
    serial = serials_of(brand, rng["id"])[0]
    assert other_brand.get("/api/v1/ranges").get_json() == []
    for url in (f"/api/v1/ranges/{rng['id']}", f"/api/v1/ranges/{rng['id']}/codes.csv"):
        with other_brand.get(url) as response:
            assert response.status_code == 404
            assert serial not in response.get_data(as_text=True)


def test_a_revoked_authorisation_stops_a_printer_issuing(brand, make_actor, authorise, product):
    printer = authorise(make_actor("printer", "Printer Revoked"))
    auths = brand.get("/api/v1/printer-authorisations").get_json()
    assert brand.post(f"/api/v1/printer-authorisations/{auths[0]['id']}/revoke").status_code \
        == 200
    response = printer.post("/api/v1/ranges", json={"gtin": product["gtin"], "quantity": 1})
    assert response.status_code in (403, 404)


def test_an_inspector_cannot_download_a_ranges_codes(brand, inspector, product):
    rng = issue_range(brand, product["gtin"], quantity=2, steps=(), pin=True)
    with inspector.get(f"/api/v1/ranges/{rng['id']}/codes.csv") as response:
        assert response.status_code in (403, 404)
