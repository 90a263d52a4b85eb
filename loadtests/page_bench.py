"""Page benchmark: how soon does a phone on a slow network see the stamp's verdict?

    PYTHONPATH=$PWD /work/venv/bin/python -m loadtests.page_bench [--runs 5] [--port 18601]

Starts scanapp on its embedded default (a SQLite file in a temporary folder, no Redis) on
127.0.0.1:``--port`` in a thread, seeds a brand, a product and activated stamps through the
HTTP API, then opens one fresh stamp per run in headless Chromium (Debian's, driven by
Playwright) with Chromium's own throttling through the DevTools protocol:
``Network.emulateNetworkConditions`` (round trip, down/up throughput) and
``Emulation.setCPUThrottlingRate``. Profiles (Chrome DevTools' presets):

- Slow 3G: 2,000 ms round trip, 50 KB/s down and up, CPU 4x slower;
- Fast 3G: 562.5 ms round trip, 180 KB/s down, 84 KB/s up, CPU 4x slower.

Each run is a new browser context (cold cache, new connection), geolocation denied (the
page then waits no longer for a fix). Measured in the page (performance.now(), from
navigation start): when the verdict is first in the document (server-rendered, so this is
when it can be painted), first contentful paint, and when the recorded answer of this scan
has replaced it; plus the bytes on the wire (the sum of Network.loadingFinished's encoded
lengths: HTML, the scan POST and its answer). Prints medians per profile.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
from pathlib import Path

PROFILES = {
    "Slow 3G": {"latency": 2000, "down": 50 * 1024, "up": 50 * 1024, "cpu": 4},
    "Fast 3G": {"latency": 562.5, "down": 180 * 1024, "up": 84 * 1024, "cpu": 4},
}

# Runs before the page's own scripts: note when the verdict appears and when the recorded
# answer replaces it (attributes set by the server-rendered HTML).
OBSERVER = """
window.__marks = {};
new MutationObserver(() => {
  const v = document.getElementById('verdict');
  const now = performance.now();
  const shown = v && v.dataset.verdict && v.dataset.verdict !== 'pending';
  if (shown && !window.__marks.verdict) window.__marks.verdict = now;
  if (v && v.dataset.recorded && !window.__marks.recorded) window.__marks.recorded = now;
}).observe(document, {subtree: true, childList: true, attributes: true});
"""


def seed(app, count: int) -> list[str]:
    """A brand, a product and ``count`` activated stamps; returns their paths."""
    from scanapp.auth import service as auth_service
    from scanapp.auth.models import Role
    from scanapp.db import session_scope

    with app.app_context(), session_scope(app) as session:
        _, key = auth_service.issue_key(session, "Công ty Nước mắm Phú Quốc", Role.BRAND)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {key}"}
    product = client.post("/api/v1/products", headers=auth, json={
        "gtin": "08934567890120", "name": "Nước mắm Phú Quốc 40°N chai 500 ml",
        "name_en": "Phu Quoc fish sauce 40°N, 500 ml bottle",
        "description_vi": "Nước mắm truyền thống ủ chượp 12 tháng trong thùng gỗ.",
        "market_regions": ["01", "79"]})
    assert product.status_code == 201, product.get_json()
    made = client.post("/api/v1/ranges", headers=auth, json={
        "gtin": "08934567890120", "quantity": count, "lot": "L2411", "expiry": "2027-11-29"})
    assert made.status_code == 201, made.get_json()
    range_id = made.get_json()["id"]
    for step in ("print", "activate"):
        assert client.post(f"/api/v1/ranges/{range_id}/{step}", headers=auth,
                           json={}).status_code == 200
    codes = client.get(f"/api/v1/ranges/{range_id}/codes.txt", headers=auth)
    paths = ["/" + line.split("://", 1)[1].split("/", 1)[1]
             for line in codes.get_data(as_text=True).split()]
    codes.close()
    return paths


def measure(browser, url: str, profile: dict, wait_for: str) -> dict:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  locale="vi-VN")
    page = context.new_page()
    page.add_init_script(OBSERVER)
    cdp = context.new_cdp_session(page)
    sizes: dict[str, int] = {}
    cdp.on("Network.loadingFinished",
           lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])))
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": profile["latency"],
        "downloadThroughput": profile["down"], "uploadThroughput": profile["up"]})
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": profile["cpu"]})
    try:
        page.goto(url, wait_until="commit", timeout=60_000)
        page.wait_for_selector(wait_for, timeout=60_000)
        page.wait_for_timeout(300)  # the POST's loadingFinished event
        marks = page.evaluate("window.__marks")
        fcp = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0]"
                            " || {}).startTime || null")
        verdict = page.get_attribute("#verdict", "data-verdict")
    finally:
        context.close()
    return {"verdict_ms": marks.get("verdict"), "fcp_ms": fcp,
            "recorded_ms": marks.get("recorded"), "bytes": sum(sizes.values()),
            "requests": len(sizes), "verdict": verdict}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, default=18601)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--wait-for", default="#verdict[data-recorded]",
                        help="selector meaning 'this scan is recorded and shown'; the "
                             "pre-issue-17 page (for comparison, run with that tree on "
                             "PYTHONPATH) needs '#verdict:not([data-verdict=pending])'")
    args = parser.parse_args(argv)

    import logging

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log in the figures

    from scanapp import create_app

    folder = Path(tempfile.mkdtemp(prefix="page-bench-"))
    app = create_app({"ENV": "development", "DATABASE_URL": f"sqlite:///{folder}/bench.db",
                      "AUTO_MIGRATE": True, "REDIS_URL": None, "RATELIMIT_ENABLED": False,
                      "PUBLIC_BASE_URL": f"http://127.0.0.1:{args.port}"})
    app.instance_path = str(folder)
    paths = seed(app, args.runs * len(PROFILES) + 2)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{args.port}"
    results: dict[str, list[dict]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=args.chromium, headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update"])
            measure(browser, base + paths.pop(), PROFILES["Fast 3G"], args.wait_for)  # warm
            for name, profile in PROFILES.items():
                results[name] = [measure(browser, base + paths.pop(), profile, args.wait_for)
                                 for _ in range(args.runs)]
            browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)
        for hook in app.extensions.get("scanapp.shutdown_hooks", []):
            hook()

    print(f"Stamp page, genuine verdict, {args.runs} cold runs per profile (medians; "
          "time from navigation start):\n")
    print("| profile | verdict in the document | first contentful paint | scan recorded "
          "| bytes transferred | requests |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, runs in results.items():
        assert all(r["verdict"] in ("genuine", "authentic") for r in runs), runs

        def median(key, runs=runs):
            return statistics.median(r[key] for r in runs if r[key] is not None)

        recorded = [r for r in runs if r["recorded_ms"] is not None]
        # The old page shows its verdict only once the scan is recorded: the same moment.
        done = median("recorded_ms", recorded) if recorded else median("verdict_ms")
        print(f"| {name} | {median('verdict_ms') / 1000:.2f} s | {median('fcp_ms') / 1000:.2f} s "
              f"| {done / 1000:.2f} s "
              f"| {median('bytes') / 1024:.1f} KB | {median('requests'):.0f} |")


if __name__ == "__main__":
    main()
