"""Re-apply each one-line change of issue 22 (docs/RELIABILITY.md, "Promises that fail the
suite when broken") to this checkout, run the test meant to catch it, expect a failure and
restore the file. Prints one line per change: CAUGHT, NOT CAUGHT, or SOURCE CHANGED when the
line no longer exists as written (a refactor moved it: update the entry).

    python scripts/check_promises.py            # all of them
    python scripts/check_promises.py 6a 13      # those whose name starts so

Run it on a clean checkout: it rewrites files in place (and restores them).
"""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
T = "tests/scan/test_promises.py"
CHANGES = [
    (
        "1 settings={}",
        "scanapp/scan/service.py",
        "settings=dict(product.fraud_settings) if product else {})",
        "settings={})",
        [T + "::test_a_products_own_threshold_is_the_one_the_scan_uses"],
    ),
    (
        "2 market_regions=()",
        "scanapp/scan/service.py",
        "market_regions=rng.market_regions or (product.market_regions if product else ()),",
        "market_regions=(),",
        [T, "-k", "market"],
    ),
    (
        "3 body.timestamp signature",
        "scanapp/fraud/webhooks.py",
        'timestamp.encode() + b"." + body',
        'body + b"." + timestamp.encode()',
        ["tests/fraud/test_webhooks.py", "-k", "documented_format"],
    ),
    (
        "4 _allow_private always true",
        "scanapp/config.py",
        '"WEBHOOK_ALLOW_PRIVATE": _env_bool("WEBHOOK_ALLOW_PRIVATE", not production),',
        '"WEBHOOK_ALLOW_PRIVATE": _env_bool("WEBHOOK_ALLOW_PRIVATE", True),',
        ["tests/fraud/test_webhooks.py", "-k", "by_default"],
    ),
    (
        "5 hashes keyed with a constant",
        "scanapp/scan/privacy.py",
        'hmac.new(secret_key.encode(), b"scanapp.scan.privacy.v1"',
        'hmac.new(b"constant", b"scanapp.scan.privacy.v1"',
        [T, "-k", "keyed_with"],
    ),
    (
        "6a key refresh an hour",
        "scanapp/serials/codec.py",
        "KEY_REFRESH_SECONDS = 1.0",
        "KEY_REFRESH_SECONDS = 3600.0",
        [T, "-k", "refresh_period"],
    ),
    (
        "6b range refresh an hour",
        "scanapp/serials/lookup.py",
        "REFRESH_SECONDS = 1.0",
        "REFRESH_SECONDS = 3600.0",
        [T, "-k", "refresh_period"],
    ),
    (
        "7 _safe_next accepts any target",
        "scanapp/fraud/dashboard.py",
        'if target and target.startswith("/inspect") and not target.startswith("//"):',
        "if target:",
        ["tests/security/test_promises.py", "-k", "redirect"],
    ),
    (
        "8 stamp page script-src *",
        "scanapp/scan/pages.py",
        '    response.headers["Cache-Control"] = "no-store"\n',
        '    response.headers["Cache-Control"] = "no-store"\n'
        '    response.headers["Content-Security-Policy"] = '
        '"script-src * \'unsafe-inline\' \'unsafe-eval\'"\n',
        ["tests/security/test_promises.py", "-k", "stamp_page"],
    ),
    (
        "9 reasons unsorted",
        "scanapp/risk/engine.py",
        "reasons = tuple(sorted(strengths, key=lambda r: -contribution[r]))",
        "reasons = tuple(strengths)",
        [T, "-k", "strongest"],
    ),
    (
        "10 scan_events index dropped",
        "scanapp/scan/models.py",
        '        Index("ix_scan_events_province_scanned_at", "province", "scanned_at"),\n',
        "",
        ["tests/reliability/test_migrations.py"],
    ),
    (
        "11 group commit batch of one",
        "scanapp/scan/sink.py",
        "max_batch: int = 500",
        "max_batch: int = 1",
        [T, "-k", "share_their_commits"],
    ),
    (
        "12 a rule raising on odd input",
        "scanapp/risk/rules.py",
        "    return excess_strength(max(count, 1 if",
        "    return excess_strength(max(math.sqrt(count), 1 if",
        ["tests/fraud/test_rules.py", "-k", "odd_input"],
    ),
    (
        "13a flag written inside the request",
        "scanapp/scan/service.py",
        "    if parts.flag_writer is not None:\n",
        "    if False:\n",
        [T, "-k", "does_not_wait"],
    ),
    (
        "13b production default flags in request",
        "scanapp/config.py",
        '_env_bool("SCAN_FLAGS_IN_BACKGROUND", production),',
        '_env_bool("SCAN_FLAGS_IN_BACKGROUND", False),',
        ["tests/test_settings.py", "-k", "flags_after_the_answer"],
    ),
    (
        "x expired never true",
        "scanapp/scan/service.py",
        '"expired": bool(expiry and expiry < utcnow().date()),',
        '"expired": False,',
        [T, "-k", "expired"],
    ),
    (
        "x expired on the day",
        "scanapp/scan/service.py",
        '"expired": bool(expiry and expiry < utcnow().date()),',
        '"expired": bool(expiry and expiry <= utcnow().date()),',
        [T, "-k", "expired"],
    ),
    (
        "x rebuild metric not counted",
        "scanapp/scan/service.py",
        'on_rebuild=lambda: metrics.inc("scanapp_redis_bucket_rebuilds_total"),',
        "",
        [T, "-k", "rebuilt"],
    ),
    (
        "x sql reload drops newest",
        "scanapp/scan/store.py",
        "recent = _without_newest_of(history.recent, device)",
        "recent = history.recent[1:]",
        ["tests/scan/test_store_contract.py", "-k", "reload_after or cap"],
    ),
    (
        "x lua reload drops newest",
        "scanapp/scan/scan_state.lua",
        "        own = fields[5] == device",
        "        own = true",
        ["tests/scan/test_store_contract.py", "-k", "reload_after or cap"],
    ),
]
only = sys.argv[1:]
for name, path, old, new, test in CHANGES:
    if only and not any(name.startswith(o) for o in only):
        continue
    f = ROOT / path
    text = f.read_text()
    if text.count(old) != 1:
        print(f"{name}: SOURCE CHANGED ({text.count(old)} matches) in {path}")
        continue
    f.write_text(text.replace(old, new))
    try:
        r = subprocess.run(
            [*PYTEST, *test, "-q", "-x"],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        tail = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-200:]
        verdict = {0: "NOT CAUGHT", 1: "CAUGHT"}.get(r.returncode, f"ERROR rc={r.returncode}")
        print(f"{name}: {verdict} | {' '.join(test)} | {tail}", flush=True)
    finally:
        f.write_text(text)
