"""Realistic mixed traffic for scanapp: consumers, printers and inspectors at once.

    SCANAPP_LOAD_ADMIN_KEY=sa_... .venv/bin/locust -f loadtests/locustfile.py \
        --host http://127.0.0.1:5500 --headless -u 50 -r 10 -t 30s

Seeding (once per run, in ``test_start``, through the API only): with the admin key from
``SCANAPP_LOAD_ADMIN_KEY`` (make one with ``flask --app scanapp keys create --role admin
--org Operator``) it creates a brand, a printer and an inspector key for organisations of
its own, a product with a fresh GTIN, lets the printer print that product, issues a range of
``SCANAPP_LOAD_CODES`` codes (default 20000), prints and activates it, and downloads the
stamp URIs the consumers then scan. Run it as one locust process (the default): the code
pool is shared in memory between users, which keeps every "first scan" a real first scan.

Users: ``SCANAPP_LOAD_PRINTERS`` printers and ``SCANAPP_LOAD_INSPECTORS`` inspectors (1 each
by default, whatever ``-u`` is: there are few of them in real life), every other user a
consumer.
- ``ConsumerUser`` (most traffic): the scan mix of loadtests/traffic.py, POST /api/v1/scans
  with coordinates in the body; now and then opens the stamp URI itself, as the phone does.
- ``PrinterUser``: requests a small range for the product and downloads it as codes.csv.
- ``InspectorUser``: lists flagged codes and opens a code's dossier.

This is the realistic scenario; the saturation ratio against the do-nothing baseline comes
from loadtests/bench.py (wrk), where the load generator costs far less CPU.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
from urllib.parse import urlsplit

from locust import HttpUser, between, events, task

from loadtests import traffic

CODES = int(os.environ.get("SCANAPP_LOAD_CODES", "20000"))
SEED: dict = {}
_lock = threading.Lock()


def random_gtin() -> str:
    """A fresh GTIN-14 under GS1 Vietnam's 893 prefix, with its check digit."""
    body = "0893" + "".join(secrets.choice("0123456789") for _ in range(9))
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def _api(http, host: str, method: str, path: str, key: str, **kwargs):
    response = http.request(method, host + path, timeout=600,
                            headers={"Authorization": f"Bearer {key}"}, **kwargs)
    if response.status_code >= 300:
        raise RuntimeError(f"seeding {method} {path} -> {response.status_code}: "
                           f"{response.text[:300]}")
    return response


@events.test_start.add_listener
def seed(environment, **_kwargs) -> None:
    """Create the organisations, keys, product and codes of this run through the API."""
    import requests

    admin = os.environ.get("SCANAPP_LOAD_ADMIN_KEY")
    if not admin:
        raise RuntimeError("set SCANAPP_LOAD_ADMIN_KEY to an admin key "
                           "(flask --app scanapp keys create --role admin --org Operator)")
    run = secrets.token_hex(3)
    host = environment.host
    with requests.Session() as http:
        def call(method, path, key, **kw):
            return _api(http, host, method, path, key, **kw)

        keys = {}
        for role in ("brand", "printer", "inspector"):
            made = call("POST", "/api/v1/keys", admin,
                        json={"org": f"Load {role} {run}", "role": role, "label": "locust"})
            keys[role] = made.json()["key"]
        gtin = random_gtin()
        product = call("POST", "/api/v1/products", keys["brand"], json={
            "gtin": gtin, "name": f"Trà Shan tuyết {run}", "market_regions": ["01", "79"]}).json()
        printer_org = call("GET", "/api/v1/me", keys["printer"]).json()["org_id"]
        call("POST", "/api/v1/printer-authorisations", keys["brand"],
             json={"printer_org_id": printer_org, "product_id": product["id"]})
        made = call("POST", "/api/v1/ranges", keys["printer"],
                    json={"gtin": gtin, "quantity": CODES}).json()
        call("POST", f"/api/v1/ranges/{made['id']}/print", keys["printer"], json={})
        call("POST", f"/api/v1/ranges/{made['id']}/activate", keys["brand"], json={})
        text = call("GET", f"/api/v1/ranges/{made['id']}/codes.txt", keys["printer"]).text
    codes = [line.strip() for line in text.splitlines()
             if line.strip() and not line.startswith("#")]
    SEED.update(keys=keys, gtin=gtin, product_id=product["id"],
                pool=traffic.CodePool(codes), scanned=[])


class ConsumerUser(HttpUser):
    """A phone scanning stamps: the bulk of the traffic."""

    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.device = traffic.device_id(self.rng)

    def _fresh_code(self) -> str | None:
        with _lock:
            pool: traffic.CodePool = SEED["pool"]
            if pool.left == 0:
                return None
            code = pool.take(1)[0]
            SEED["scanned"].append(code)
            return code

    def _scan(self, code: str, device: str, name: str) -> None:
        lat, lon = traffic.place(self.rng)
        with self.client.post("/api/v1/scans", name=name, catch_response=True, json={
                "code": code, "lat": lat, "lon": lon, "device_id": device}) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            elif name == "scan: forged" and response.json().get("verdict") != "counterfeit":
                response.failure(f"forged code judged {response.json().get('verdict')}")

    @task(17)
    def first_scan(self) -> None:
        code = self._fresh_code()
        if code is not None:
            self._scan(code, self.device, "scan: first")

    @task(2)
    def repeat_scan(self) -> None:
        with _lock:
            scanned = SEED["scanned"][-500:]
        if scanned:
            self._scan(self.rng.choice(scanned), traffic.device_id(self.rng), "scan: repeat")

    @task(1)
    def forged_scan(self) -> None:
        code = self._fresh_code()
        if code is not None:
            self._scan(traffic.forge(code, self.rng), traffic.device_id(self.rng),
                       "scan: forged")

    @task(1)
    def open_stamp(self) -> None:
        """The phone camera opens the stamp URI: a browser asking for HTML gets the
        verification page itself (no redirect), in Vietnamese."""
        with _lock:
            scanned = SEED["scanned"][-500:]
        if scanned:
            path = urlsplit(self.rng.choice(scanned)).path
            self.client.get(path, name="stamp page /01/{gtin}/21/{serial}",
                            allow_redirects=False, headers={
                                "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
                                "Accept-Language": "vi-VN,vi;q=0.9"})


class PrinterUser(HttpUser):
    """A printing house ordering small ranges and downloading them for its press."""

    fixed_count = int(os.environ.get("SCANAPP_LOAD_PRINTERS", "1"))
    wait_time = between(3, 6)

    @task
    def order_and_download(self) -> None:
        key = SEED["keys"]["printer"]
        auth = {"Authorization": f"Bearer {key}"}
        response = self.client.post("/api/v1/ranges", headers=auth, name="ranges: request",
                                    json={"gtin": SEED["gtin"], "quantity": 1000})
        if response.status_code != 201:
            return
        range_id = response.json()["id"]
        self.client.get(f"/api/v1/ranges/{range_id}/codes.csv", headers=auth,
                        name="ranges: codes.csv")


class InspectorUser(HttpUser):
    """A market inspector checking the flag list and opening dossiers."""

    fixed_count = int(os.environ.get("SCANAPP_LOAD_INSPECTORS", "1"))
    wait_time = between(2, 5)

    @task(3)
    def list_flags(self) -> None:
        self.client.get("/api/v1/flags", name="flags: list",
                        headers={"Authorization": f"Bearer {SEED['keys']['inspector']}"})

    @task(2)
    def open_dossier(self) -> None:
        with _lock:
            scanned = SEED["scanned"][-500:]
        if not scanned:
            return
        serial = scanned[random.randrange(len(scanned))].rpartition("/21/")[2].split("?")[0]
        self.client.get(f"/api/v1/codes/{serial}", name="codes: dossier {serial}",
                        headers={"Authorization": f"Bearer {SEED['keys']['inspector']}"})
