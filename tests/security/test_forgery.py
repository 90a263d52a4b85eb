"""Forgery: more than 100,000 forged codes, every one judged counterfeit, none authentic.

The bulk goes through the scan path's verification function (``scan.service.identify``:
signature, key, range, GTIN and lot binding; what every scan runs before counting) in a
loop; a sample of every kind also goes through HTTP ``POST /api/v1/scans``, where the
verdict must be ``counterfeit`` and the scan still recorded for hotspot detection.

Kinds of forgery:
- random serials in the stamp alphabet, under the real key id and under other key ids;
- every single-character substitution of real serials (20 positions x 31 other characters);
- real serials presented under another GTIN (another brand's product, random valid GTINs)
  or another lot (different lot, lot dropped, lot added);
- serials signed with a key that leaked and was marked compromised: the real codes issued
  under it and codes a forger mints with it.
Genuine codes are checked alongside, so a verifier that refuses everything fails too.
"""

from __future__ import annotations

import random
from collections import Counter

import sqlalchemy as sa

from scanapp.db import get_engine
from scanapp.scan import service as scan_service
from scanapp.scan.models import ScanEvent
from scanapp.serials.codec import ALPHABET
from scanapp.serials.stamps import StampRef, stamp_uri
from scanapp.services import services
from tests.conftest import gtin14

from .conftest import issue_range, serials_of

BASE = "https://scan.example.vn"
GOAL = 100_000


def random_gtin(rng: random.Random) -> str:
    return gtin14("0" + "".join(rng.choice("0123456789") for _ in range(12)))


def forged_codes(rng, real, other_gtins, compromised_real, signer):
    """Yield (kind, StampRef) for every forgery; ``real`` is [(serial, gtin, lot)]."""
    key_char = real[0][0][0]
    for _ in range(40_000):
        body = "".join(rng.choice(ALPHABET) for _ in range(19))
        serial, gtin, lot = rng.choice(real)
        yield "random serial", StampRef(gtin, key_char + body, lot)
    for _ in range(5_000):
        serial, gtin, lot = rng.choice(real)
        yield "random serial, any key id", StampRef(
            gtin, "".join(rng.choice(ALPHABET) for _ in range(20)), lot)
    for serial, gtin, lot in real:
        for position in range(len(serial)):
            for ch in ALPHABET:
                if ch != serial[position]:
                    mutated = serial[:position] + ch + serial[position + 1:]
                    yield "one character changed", StampRef(gtin, mutated, lot)
    for serial, gtin, lot in real:
        for other in other_gtins:
            if other != gtin:
                yield "real serial, wrong GTIN", StampRef(other, serial, lot)
        for wrong_lot in ("L0T2", "X", "LOT1 ", "lot1", "LOT10"):
            if wrong_lot != lot:
                yield "real serial, wrong lot", StampRef(gtin, serial, wrong_lot)
        yield "real serial, wrong lot", StampRef(gtin, serial, None if lot else "LOT1")
    for serial, gtin, lot in compromised_real:
        yield "compromised key, issued code", StampRef(gtin, serial, lot)
    gtin, lot = compromised_real[0][1], compromised_real[0][2]
    for _ in range(20_000):
        # A forger holding the leaked key signs sequence numbers of their choosing.
        yield "compromised key, minted code", StampRef(
            gtin, signer.sign(rng.randrange(1 << 40), gtin, lot), lot)


def test_over_100000_forged_codes_are_all_counterfeit(app, admin, brand, other_brand, product):
    rng = random.Random(20261125)
    second = brand.post("/api/v1/products", json={"gtin": gtin14("0893456789029"),
                                                  "name": "Second product"}).get_json()
    foreign = other_brand.post("/api/v1/products", json={"gtin": gtin14("0893000000017"),
                                                         "name": "Other brand"}).get_json()
    # Codes issued under key 0, which will leak.
    leaked = issue_range(brand, product["gtin"], quantity=20, lot="LOT1")
    compromised_real = [(s, product["gtin"], "LOT1") for s in serials_of(brand, leaked["id"])]
    with app.app_context():
        leaked_signer = services(app).codec.signer(0)
    assert admin.post("/api/v1/signing-keys/rotate", json={}).status_code == 201
    assert admin.post("/api/v1/signing-keys/0/compromise", json={}).status_code == 200

    # Genuine codes under the new key: these must keep verifying.
    real = []
    for gtin, lot in ((product["gtin"], "LOT1"), (second["gtin"], None)):
        rng_ = issue_range(brand, gtin, quantity=30, **({"lot": lot} if lot else {}))
        real += [(s, gtin, lot) for s in serials_of(brand, rng_["id"])]
    other_gtins = [product["gtin"], second["gtin"], foreign["gtin"]] + [
        random_gtin(rng) for _ in range(40)]

    verdicts: Counter = Counter()
    reasons: Counter = Counter()
    accepted = []
    samples: dict[str, list[StampRef]] = {}
    with app.app_context():
        for serial, gtin, lot in real:
            assert scan_service.identify(app, StampRef(gtin, serial, lot)).genuine, serial
        for kind, ref in forged_codes(rng, real, other_gtins, compromised_real, leaked_signer):
            ident = scan_service.identify(app, ref)
            verdicts[kind] += 1
            if ident.genuine:
                accepted.append((kind, ref))
            else:
                reasons[ident.counterfeit_reason] += 1
            bucket = samples.setdefault(kind, [])
            if len(bucket) < 40:
                bucket.append(ref)
    tried = sum(verdicts.values())
    print(f"\nforgery: {tried} forged codes tried, {len(accepted)} accepted; by kind "
          f"{dict(verdicts)}; reasons {dict(reasons)}")
    assert tried >= GOAL
    assert accepted == []
    assert {"bad_signature", "unknown_key", "compromised_key"} <= set(reasons)

    # A sample of every kind through HTTP: counterfeit, never authentic, and recorded.
    anonymous = brand.client
    http_counts: Counter = Counter()
    for kind, refs in samples.items():
        for ref in refs:
            uri = stamp_uri(BASE, ref.gtin, ref.serial, ref.lot)
            response = anonymous.post("/api/v1/scans", json={"code": uri})
            body = response.get_json()
            if response.status_code == 200:
                assert body["verdict"] == "counterfeit", (kind, uri, body)
                assert body["product"] is None  # a fake never borrows a real product's name
                http_counts["counterfeit"] += 1
            else:
                # Not even a well-formed stamp (e.g. a lot with a space): refused, not judged.
                assert response.status_code in (400, 404, 422), (kind, uri, body)
                http_counts[f"refused {response.status_code}"] += 1
    for serial, gtin, lot in real[:5]:
        body = anonymous.post("/api/v1/scans", json={
            "code": stamp_uri(BASE, gtin, serial, lot)}).get_json()
        assert body["verdict"] == "authentic", body
    with get_engine(app).connect() as conn:
        recorded = conn.scalar(sa.select(sa.func.count()).select_from(ScanEvent)
                               .where(ScanEvent.verdict == "counterfeit"))
    print(f"forgery over HTTP: {dict(http_counts)}; counterfeit scans recorded: {recorded}")
    assert http_counts["counterfeit"] >= 200
    assert recorded == http_counts["counterfeit"]
