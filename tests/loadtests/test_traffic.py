"""The scan traffic mix: first scans are really first, forgeries really fail the tag."""

from __future__ import annotations

import json
import random

import pytest

from loadtests import traffic

CODE = "https://scan.example.vn/01/08934567000013/21/{}"


def _codes(n):
    rng = random.Random(n)  # random serials: a forgery cannot land on another test code
    return [CODE.format("".join(rng.choice(traffic.SERIAL_ALPHABET) for _ in range(20)))
            for _ in range(n)]


def test_mix_has_mostly_distinct_first_scans_some_repeats_and_a_few_forgeries():
    pool = traffic.CodePool(_codes(2000))
    genuine = set(pool.codes)
    bodies = list(traffic.scan_requests(pool, 1000, traffic.Mix(0.10, 0.03), seed=1))
    assert len(bodies) == 1000
    codes = [b["code"] for b in bodies]
    forged = [c for c in codes if c not in genuine]
    assert len(forged) == 30
    first_seen = set()
    repeats = 0
    for code in codes:
        if code in first_seen:
            repeats += 1
        first_seen.add(code)
    assert repeats == 100
    # 1000 - 100 repeats consumed 900 codes from the pool (forgeries are altered ones).
    assert pool.left == 1100


def test_every_body_carries_coordinates_inside_vietnam_and_a_device():
    pool = traffic.CodePool(_codes(300))
    for body in traffic.scan_requests(pool, 200, seed=2):
        assert 8.0 < body["lat"] < 23.6 and 102.0 < body["lon"] < 110.0
        assert len(body["device_id"]) == 32


def test_forgery_changes_one_serial_character_and_keeps_the_rest():
    code = CODE.format("K1234567890ABCDEFGHJ") + "?17=261231"
    forged = traffic.forge(code, random.Random(3))
    head, _, rest = forged.rpartition("/21/")
    serial, _, query = rest.partition("?")
    original = "K1234567890ABCDEFGHJ"
    assert head == CODE.rpartition("/21/")[0] and query == "17=261231"
    assert serial[0] == original[0]
    assert sum(a != b for a, b in zip(serial, original, strict=True)) == 1
    assert set(serial) <= set(traffic.SERIAL_ALPHABET)


def test_pool_refuses_to_hand_out_a_code_twice():
    pool = traffic.CodePool(_codes(5))
    assert len(pool.take(5)) == 5
    with pytest.raises(ValueError, match="exhausted"):
        pool.take(1)


def test_bodies_are_compact_json_one_per_line():
    pool = traffic.CodePool(_codes(20))
    for raw in traffic.scan_bodies(pool, 10, seed=4):
        assert b"\n" not in raw and b" " not in raw
        assert json.loads(raw)["code"].startswith("https://")
