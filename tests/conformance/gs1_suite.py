"""Run GS1's own resolver test suite (gs1/GS1DL-resolver-testsuite) against scanapp.

The suite is a browser script: ``GS1DigitalLinkResolverTestSuite.js`` plus GS1's
``GS1DigitalLinkToolkit.js``, normally served from ref.gs1.org, which calls a PHP helper
(``tester.php``) for the HTTP requests a browser cannot make, fetches two JSON schemas and
GS1's list of ratified link types. Here both suite files run **unmodified** in headless
Chromium; what they load from the network is answered by Playwright request routing:

- the harness page (an element ``#gs1ResolverTests``, the scripts, a JSON-schema shim
  exposing ``window.ajv7``) is written here;
- ``tester.php?test=...`` is answered by ``PhpHelper`` below, our own Python re-implementation of
  the helper's four commands (same request headers, same result shape, same query decoding);
- the two schemas are GS1's when the suite folder has them (``schemas/linkset-schema.json``,
  ``schemas/description-file-schema.json``), otherwise our own, written from the standard
  text (``tests/conformance/schemas/``); the link-type list likewise.

scanapp is served over https (a self-signed certificate made with openssl at run time) on
127.0.0.1, seeded with one product, one lot and an activated stamp, and the suite is run
for a stamp URI, a lot URI and a product URI.

The suite itself is not in this repository: the workplace forbids committing fetched code.
``run_suite(folder)`` takes any checkout of it (CI looks in ``../shared/gs1-resolver-testsuite``).

Command line (prints every result and a pass/fail/warn tally per URI; exit 1 on a failure):

    PYTHONPATH=$PWD /work/venv/bin/python -m tests.conformance.gs1_suite SUITE_DIR [--port N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote_plus, urlsplit

HERE = Path(__file__).parent
OUR_SCHEMAS = HERE / "schemas"
CHROMIUM = os.environ.get("SCANAPP_TEST_CHROMIUM", "/usr/bin/chromium")

# Where the unmodified suite looks for things (constants at the top of its script).
TESTER_URLS = ("https://philarcher.org/gs1/tester.php",
               "https://ref.gs1.org/test-suites/resolver/1.0.0/tester.php")
DESCRIPTION_SCHEMA_URL = "https://ref.gs1.org/standards/resolver/description-file-schema"
LINKSET_SCHEMA_URL = "https://gs1.github.io/linkset/gs1-linkset-schema.json"
LINKTYPES_URL = "https://ref.gs1.org/voc/data/linktypes"
HARNESS_ORIGIN = "https://gs1-suite.test"
SUITE_ORIGIN = "https://ref.gs1.org/test-suites/resolver/"  # the Origin tester.php sends

HARNESS_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>GS1 resolver suite</title>
<script src="/ajv7-shim.js"></script>
<script src="/GS1DigitalLinkToolkit.js"></script>
<script src="/GS1DigitalLinkResolverTestSuite.js"></script>
</head><body><img id="rotatingcircle" alt=""><div id="gs1ResolverTests"></div></body></html>"""


# -- tester.php, re-implemented ------------------------------------------------------------

def _php_query(query: str) -> dict[str, str]:
    """tester.php's ``parse_str(urldecode($query))``: the whole query string is decoded once,
    then split and decoded again. An ``&`` inside an encoded testVal therefore splits it, as
    it does on GS1's host."""
    return dict(parse_qsl(unquote_plus(query), keep_blank_values=True))


def _rawurlencode(text: str) -> str:
    return quote(text, safe="-_.~")


class PhpHelper:
    """The four commands of GS1's tester.php, against an https server we trust blindly
    (it is our own, with a self-signed certificate)."""

    def __init__(self):
        self.tls = ssl.create_default_context()
        self.tls.check_hostname = False
        self.tls.verify_mode = ssl.CERT_NONE

    def answer(self, query: str) -> dict:
        params = _php_query(query)
        test, url = params.get("test"), params.get("testVal")
        if not url or not url.startswith("https://"):
            url = None
        if test is None or url is None:
            return {"error": "No valid command received"}
        if test == "getHTTPversion":
            status, _msg, _headers, _body, version = self._request("HEAD", url, {})
            return {"test": test, "testVal": url, "result": version}
        if test in ("getAllHeaders", "getLinksetHeaders", "getCorsHeaders"):
            headers = {"Origin": SUITE_ORIGIN}
            method = "GET"
            if test == "getLinksetHeaders":
                headers["Accept"] = "application/linkset+json"
                headers["Accept-Language"] = ""
            elif test == "getCorsHeaders":
                method = "OPTIONS"
                headers["Access-Control-Request-Method"] = "GET,HEAD,OPTIONS"
            else:
                if "mediaType" in params:
                    headers["Accept"] = params["mediaType"]
                if "lang" in params:
                    headers["Accept-Language"] = params["lang"]
            status, msg, raw, _body, _v = self._request(method, url, headers)
            result = {"uri": url, "httpCode": status, "httpMsg": msg, "requestURI": "",
                      "Requesting_User_Agent": "", "Requesting_Accept_Header": "",
                      "Requesting_Accept_Language": ""}
            for name, value in raw:  # PHP's array: later duplicates win, names as sent
                result[name] = value
            for i, (name, value) in enumerate(headers.items()):
                result[str(i + 1)] = f"{name}: {value}"
            return {"test": test, "testVal": url, "result": result}
        if test == "getLinkset":
            headers = {"Origin": SUITE_ORIGIN, "Accept": "application/linkset+json"}
            status, msg, raw, body, _v = self._request("GET", url, headers)
            inner = {"uri": url, "httpCode": status, "httpMsg": msg,
                     "headers": {name: value for name, value in raw},
                     "responseBody": _rawurlencode(body.decode("utf-8", "replace"))}
            return {"test": test, "testVal": url, "result": json.dumps(inner)}
        return {"error": "Invalid test command"}

    def _request(self, method: str, url: str, headers: dict[str, str]):
        parts = urlsplit(url)
        conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443,
                                           context=self.tls, timeout=10)
        try:
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            sent = dict(headers)
            sent.setdefault("Accept", "*/*")  # what curl sends when told nothing
            conn.request(method, target, headers=sent)
            response = conn.getresponse()
            body = b"" if method == "HEAD" else response.read()
            version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(response.version, "Unknown")
            return (response.status, f"{response.reason} ", response.getheaders(), body,
                    version)
        finally:
            conn.close()


# -- a JSON-schema validator for the suite's ``new window.ajv7({strict:false})`` -------------

# The hosted suite loads Ajv from a CDN. Offline we provide the same interface with a small
# validator of the draft-07 keywords GS1's two schemas use (type, properties,
# patternProperties, additionalProperties, required, items, enum, pattern, minItems, const,
# $ref to #/definitions). Our own pytest checks validate with the jsonschema library.
AJV_SHIM = HERE / "ajv7-shim.js"


# -- the run --------------------------------------------------------------------------------

@dataclass
class SuiteResult:
    uri: str
    results: list[dict] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r["status"] == status)

    @property
    def failures(self) -> list[dict]:
        return [r for r in self.results if r["status"] == "fail"]

    @property
    def warnings(self) -> list[dict]:
        return [r for r in self.results if r["status"] == "warn"]

    def tally(self) -> str:
        return (f"{self.count('pass')} pass, {self.count('fail')} fail, "
                f"{self.count('warn')} warn")


def suite_files(folder: Path) -> dict[str, Path]:
    """The files the run needs from a checkout of the suite, with our fallbacks."""
    files = {"suite": folder / "GS1DigitalLinkResolverTestSuite.js",
             "toolkit": folder / "GS1DigitalLinkToolkit.js"}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError("not a GS1DL-resolver-testsuite checkout: missing "
                                + ", ".join(missing))
    for name, ours in (("linkset_schema", "linkset-schema.json"),
                       ("description_schema", "description-file-schema.json"),
                       ("linktypes", "linktypes.json")):
        theirs = folder / "schemas" / ours
        files[name] = theirs if theirs.is_file() else OUR_SCHEMAS / ours
    return files


def self_signed(directory: Path) -> tuple[str, str]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)


def run_in_browser(files: dict[str, Path], uris: list[str], timeout_s: float = 90.0
                   ) -> list[SuiteResult]:
    from playwright.sync_api import sync_playwright

    tester = PhpHelper()
    static = {
        "/": ("text/html", HARNESS_HTML.encode()),
        "/ajv7-shim.js": ("application/javascript", AJV_SHIM.read_bytes()),
        "/GS1DigitalLinkToolkit.js": ("application/javascript", files["toolkit"].read_bytes()),
        "/GS1DigitalLinkResolverTestSuite.js": ("application/javascript",
                                                files["suite"].read_bytes()),
    }
    json_files = {DESCRIPTION_SCHEMA_URL: files["description_schema"],
                  LINKSET_SCHEMA_URL: files["linkset_schema"],
                  LINKTYPES_URL: files["linktypes"]}
    pending = {"n": 0, "last": time.monotonic()}
    cors = {"Access-Control-Allow-Origin": "*"}

    def route(r):
        url = r.request.url
        pending["n"] += 1
        try:
            base, _, query = url.partition("?")
            if base in TESTER_URLS:
                body = json.dumps(tester.answer(query)).encode()
                r.fulfill(status=200, body=body, content_type="application/json", headers=cors)
            elif url in json_files:
                r.fulfill(status=200, body=json_files[url].read_bytes(),
                          content_type="application/json", headers=cors)
            elif url.startswith(HARNESS_ORIGIN):
                path = urlsplit(url).path or "/"
                if path in static:
                    kind, body = static[path]
                    r.fulfill(status=200, body=body, content_type=kind)
                else:
                    r.fulfill(status=404, body=b"not here")
            elif url.startswith("https://127.0.0.1"):
                r.continue_()  # the suite's own fetches to the resolver (TLS, description)
            else:
                r.abort()  # nothing else leaves the machine
        finally:
            pending["n"] -= 1
            pending["last"] = time.monotonic()

    out = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync",
                  # The harness page has a public-looking origin, like the hosted suite;
                  # Chromium's private/local network access checks would otherwise stop
                  # its fetches to the resolver on 127.0.0.1.
                  "--disable-features=BlockInsecurePrivateNetworkRequests,"
                  "PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults,"
                  "LocalNetworkAccessChecks"])
        try:
            for uri in uris:
                context = browser.new_context(ignore_https_errors=True)
                page = context.new_page()
                page.route("**/*", route)
                if os.environ.get("SCANAPP_SUITE_CONSOLE"):
                    page.on("console", lambda msg: print("console:", msg.text, file=sys.stderr))
                page.goto(HARNESS_ORIGIN + "/")
                page.evaluate("dl => testDL(dl)", uri)
                # rdFileCheck and TLSCheck are not awaited by testDL: wait for quiet.
                deadline = time.monotonic() + timeout_s
                while time.monotonic() < deadline:
                    page.wait_for_timeout(200)
                    if pending["n"] == 0 and time.monotonic() - pending["last"] > 1.0:
                        break
                page.wait_for_timeout(300)
                rows = page.evaluate(
                    "() => resultsArray.map(r => ({id: r.id, status: r.status, "
                    "test: r.test, msg: r.msg}))")
                out.append(SuiteResult(uri, rows))
                context.close()
        finally:
            browser.close()
    return out


def seed(app) -> dict[str, str]:
    """One product (with a lot) and one activated stamp, made through the public API."""
    from scanapp.auth import service as auth_service
    from scanapp.auth.models import Role
    from scanapp.db import session_scope

    with app.app_context(), session_scope(app) as session:
        _key, raw = auth_service.issue_key(session, "Suite Brand", Role("brand"), "suite")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {raw}"}
    gtin = "08934567890120"
    made = client.post("/api/v1/products", headers=auth, json={
        "gtin": gtin, "name": "Nước mắm thử", "market_regions": ["01", "79"]})
    assert made.status_code == 201, made.get_json()
    rng = client.post("/api/v1/ranges", headers=auth,
                      json={"gtin": gtin, "quantity": 1, "lot": "L2411"})
    assert rng.status_code == 201, rng.get_json()
    range_id = rng.get_json()["id"]
    for action in ("print", "activate"):
        done = client.post(f"/api/v1/ranges/{range_id}/{action}", headers=auth, json={})
        assert done.status_code == 200, done.get_json()
    csv = client.get(f"/api/v1/ranges/{range_id}/codes.csv", headers=auth)
    serial = csv.get_data(as_text=True).splitlines()[1].split(",")[0]
    csv.close()
    base = app.config["PUBLIC_BASE_URL"]
    return {"stamp": f"{base}/01/{gtin}/10/L2411/21/{serial}",
            "lot": f"{base}/01/{gtin}/10/L2411",
            "product": f"{base}/01/{gtin}"}


class HttpsServer:
    """The app on https://127.0.0.1:PORT in a thread (werkzeug), PUBLIC_BASE_URL set to it."""

    def __init__(self, app, port: int, workdir: Path):
        import logging

        from werkzeug.serving import make_server

        # One line per request is noise here; the level is put back on exit (other tests
        # read werkzeug's access log).
        self._log = logging.getLogger("werkzeug")
        self._log_level = self._log.level
        self._log.setLevel(logging.ERROR)
        cert, key = self_signed(workdir)
        self.server = make_server("127.0.0.1", port, app, threaded=True, ssl_context=(cert, key))
        self.port = self.server.server_port
        self.base = f"https://127.0.0.1:{self.port}"
        app.config["PUBLIC_BASE_URL"] = self.base
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=5)
        self._log.setLevel(self._log_level)


def embedded_app(workdir: Path):
    """A throwaway embedded scanapp (SQLite file, no Redis), migrated."""
    from scanapp import create_app
    from scanapp import migrations as scanapp_migrations

    app = create_app({
        "ENV": "testing", "TESTING": True, "DATABASE_URL": f"sqlite:///{workdir}/suite.db",
        "REDIS_URL": None, "AUTO_MIGRATE": False, "RATELIMIT_ENABLED": False,
        "SECRET_KEY": secrets.token_hex(16), "SERIAL_KEY": secrets.token_hex(16),
        "PIN_KEY": secrets.token_hex(16), "PUBLIC_BASE_URL": "https://127.0.0.1"})
    scanapp_migrations.upgrade(app)
    return app


def run_suite(folder: Path, port: int = 0) -> list[SuiteResult]:
    files = suite_files(folder)
    with tempfile.TemporaryDirectory(prefix="gs1-suite-") as tmp:
        app = embedded_app(Path(tmp))
        try:
            with HttpsServer(app, port, Path(tmp)):
                uris = seed(app)
                return run_in_browser(files, [uris["stamp"], uris["lot"], uris["product"]])
        finally:
            from scanapp.db import get_engine

            for hook in app.extensions.get("scanapp.shutdown_hooks", []):
                hook()
            get_engine(app).dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", type=Path, help="a checkout of gs1/GS1DL-resolver-testsuite")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SCANAPP_SUITE_PORT", 0)))
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    args = parser.parse_args(argv)
    files = suite_files(args.suite)
    for name in ("linkset_schema", "description_schema", "linktypes"):
        print(f"{name}: {files[name]}")
    runs = run_suite(args.suite, args.port)
    failed = False
    for run in runs:
        print(f"\n== {run.uri}: {run.tally()}")
        for row in run.results:
            print(f"  [{row['status']:4}] {row['id']}: {row['msg']}")
        failed = failed or bool(run.failures)
    if args.json:
        args.json.write_text(json.dumps([{"uri": r.uri, "results": r.results} for r in runs],
                                        ensure_ascii=False, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
