"""Every word of the field pages (inspection, stamp check, evidence, verify, errors) is in
Vietnamese by default: each visible text is made of the Vietnamese catalogue
(``evidence_text``), the stamp page's and the risk rules' Vietnamese words, and the data
itself (codes, names, notes). A string left in English, or a raw id, fails the test."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

from scanapp.fraud.evidence_text import TEXT
from scanapp.regions import PROVINCES
from scanapp.risk.rules import AGGREGATE_SIGNALS, RULES
from scanapp.scan.page_text import TEXT as PAGE_TEXT
from tests.fraud.test_evidence import issue_pdf
from tests.fraud.test_field import SERIAL, form_token, jpeg_with_gps, sign_in

WORDY = re.compile(r"[^\W\d_]{2,}")


class _Texts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:  # words a person reads or hears in attributes too
            if name in ("alt", "title", "placeholder", "aria-label", "data-busy",
                        "data-done", "data-failed") and value:
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data.strip())


def _walk(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _walk(item)
    elif isinstance(value, str):
        yield value


def _fragments() -> list[str]:
    values = list(_walk(TEXT["vi"])) + list(_walk(PAGE_TEXT["vi"]))
    for rule in RULES:
        values += [rule.title_vi, rule.explanation_vi]
    for entry in AGGREGATE_SIGNALS.values():
        values += [entry["title_vi"], entry["explanation_vi"]]
    values += [p.name for p in PROVINCES.values()]
    pieces = {piece.strip() for value in values for piece in re.split(r"\{[^}]*\}", value)
              if piece.strip()}
    return sorted(pieces, key=len, reverse=True)


def untranslated(html: str, data: list[str]) -> list[str]:
    """Visible texts of the field page's own part (the workspace header is the dashboard's)
    holding a word that is neither catalogue Vietnamese nor the case's data."""
    start = html.index('class="field-nav"')
    part = html[html.rindex("<", 0, start):html.index("</main>")]
    parser = _Texts()
    parser.feed(part)
    fragments = _fragments()
    known = sorted(set(data), key=len, reverse=True)
    found = []
    for text in parser.texts:
        text_left = []
        # Data may sit inside a catalogue sentence and a catalogue word inside data: a
        # text passes when either order of removal leaves no word.
        for order in ([*known, *fragments], [*fragments, *known]):
            rest = re.sub(r"\b[0-9a-f]{64}\b", " ", text)  # hashes are data
            for piece in order:
                rest = rest.replace(piece, " ")
            text_left.append(bool(WORDY.search(rest)))
        if all(text_left):
            found.append(text)
    return found


def test_the_catalogues_have_the_same_keys():
    def keys(value, prefix=""):
        if isinstance(value, dict):
            return {k for key, item in value.items() for k in keys(item, f"{prefix}{key}.")}
        return {prefix.rstrip(".")}

    assert keys(TEXT["vi"]) == keys(TEXT["en"])


def test_every_field_page_speaks_vietnamese(app, inspector, product, scans, issue_stamps):
    scans.flagged(SERIAL, product["gtin"], risk=92, reasons=("impossible_travel",),
                  province="79")
    stamp = issue_stamps(1)[0]
    client = sign_in(app, inspector.key)
    token = form_token(client)
    pages = {"form": client.get(f"/inspect/inspections/new?serial={SERIAL}")}
    pages["form_errors"] = client.post("/inspect/inspections", data={
        "csrf_token": token, "serial": "??", "finding": "x", "lat": "200", "lon": "",
        "note": "n" * 5001, "photos": [(io.BytesIO(b"x"), "a.jpg")]},
        content_type="multipart/form-data")
    saved = client.post("/inspect/inspections", data={
        "csrf_token": token, "serial": SERIAL, "finding": "product_absent", "lat": "10.77",
        "lon": "106.7", "place": "Chợ Bến Thành", "note": "Không còn hàng",
        "photos": [(io.BytesIO(jpeg_with_gps()), "a.jpg")]},
        content_type="multipart/form-data")
    pages["saved"] = client.get(saved.headers["Location"])
    pages["check"] = client.get("/inspect/check")
    pages["check_genuine"] = client.post("/inspect/check", data={
        "csrf_token": token, "code": stamp.uri, "lat": "21.03", "lon": "105.85"})
    pages["check_forged"] = client.post("/inspect/check", data={
        "csrf_token": token, "code": f"/01/{product['gtin']}/21/1ABCDEFGHJKMNPQRSTVW"})
    pages["check_bad"] = client.post("/inspect/check", data={"csrf_token": token,
                                                             "code": "hello"})
    digest = issue_pdf(client).headers["X-Content-SHA256"]
    pages["evidence"] = client.get(f"/inspect/codes/{SERIAL}/evidence")
    pages["verify"] = client.get("/inspect/evidence/verify")
    pages["verify_match"] = client.get(f"/inspect/evidence/verify?hash={digest}")
    pages["verify_unknown"] = client.get(f"/inspect/evidence/verify?hash={'0' * 64}")
    pages["verify_bad"] = client.get("/inspect/evidence/verify?hash=xyz")
    inspector.post(f"/api/v1/flags/{inspector.get('/api/v1/flags').get_json()['items'][0]['id']}"
                   "/case", json={"status": "investigating"})
    pages["verify_changed"] = client.get(f"/inspect/evidence/verify?hash={digest}")
    pages["error_csrf"] = client.post("/inspect/check", data={"code": stamp.uri})
    pages["error_not_found"] = client.get("/inspect/inspections/999999")
    statuses = {name: r.status_code for name, r in pages.items()}
    assert statuses == {"form": 200, "form_errors": 422, "saved": 200, "check": 200,
                        "check_genuine": 200, "check_forged": 200, "check_bad": 422,
                        "evidence": 200, "verify": 200, "verify_match": 200,
                        "verify_unknown": 404, "verify_bad": 422, "verify_changed": 200,
                        "error_csrf": 400, "error_not_found": 404}
    data = [SERIAL, stamp.serial, product["gtin"], product["name"], "Brand A",
            "Inspectorate I", "Chợ Bến Thành", "Không còn hàng", "GTIN", "SHA-256", "PDF",
            "?lang=en", "hello", "??", "1ABCDEFGHJKMNPQRSTVW", "n" * 5001]
    problems = {name: untranslated(r.get_data(as_text=True), data)
                for name, r in pages.items()}
    assert {name: found for name, found in problems.items() if found} == {}
    # And the check catches English: the same pages in English are flagged.
    english = client.get("/inspect/check?lang=en").get_data(as_text=True)
    assert untranslated(english, data)
