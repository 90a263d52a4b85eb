"""The serial codec: format, signature, binding to GTIN and lot, and key rotation."""

from __future__ import annotations

import pytest

from scanapp.serials.codec import ALPHABET, MAX_SEQ, InvalidSerial
from scanapp.services import services

GTIN = "08934567890120"
OTHER_GTIN = "08934567890137"


@pytest.fixture
def codec(app):
    with app.app_context():
        yield services(app).codec


def test_serial_is_20_crockford_characters_and_round_trips(codec):
    for seq in (0, 1, 2, 12345, 2**28 - 1, 2**28, MAX_SEQ - 1):
        serial = codec.encode(seq, GTIN, "LOT7")
        assert len(serial) == 20 and set(serial) <= set(ALPHABET)
        assert codec.verify(serial, GTIN, "LOT7") == seq


def test_bulk_encoder_matches_the_reference_signer(codec):
    signer = codec.signer()
    encoder = codec.range_encoder(GTIN, "L1", signer.key_id)
    start = 2**28 - 50  # crosses the boundary where round 0 changes
    bulk = list(encoder.serials(start, start + 100))
    assert [s for _q, s in bulk] == [signer.sign(q, GTIN, "L1") for q in range(start,
                                                                             start + 100)]


def test_consecutive_sequence_numbers_give_unrelated_serials(codec):
    serials = [codec.encode(seq, GTIN, None) for seq in range(2000)]
    assert len(set(serials)) == 2000
    # Issue order is not visible: sorting serials does not recover the sequence order.
    order = sorted(range(2000), key=lambda i: serials[i])
    ascending = sum(1 for a, b in zip(order, order[1:], strict=False) if b > a)
    assert 800 < ascending < 1200
    # No shared prefix beyond the key id character between neighbours.
    assert sum(1 for a, b in zip(serials, serials[1:], strict=False) if a[:3] == b[:3]) < 20


def test_every_single_character_mutation_is_rejected(codec):
    serials = [codec.encode(seq, GTIN, lot) for seq in (0, 7, 99999, 2**40 + 3)
               for lot in (None, "A1")]
    lots = [lot for _seq in range(4) for lot in (None, "A1")]
    tried = 0
    for serial, lot in zip(serials, lots, strict=True):
        for position in range(len(serial)):
            for ch in ALPHABET + "a-Oi ":
                if ch == serial[position]:
                    continue
                mutated = serial[:position] + ch + serial[position + 1:]
                with pytest.raises(InvalidSerial):
                    codec.verify(mutated, GTIN, lot)
                tried += 1
    assert tried == 8 * 20 * (len(ALPHABET) + 5 - 1)


def test_serial_moved_to_another_gtin_or_lot_fails(codec):
    serial = codec.encode(42, GTIN, "LOT1")
    for gtin, lot in ((OTHER_GTIN, "LOT1"), (GTIN, "LOT2"), (GTIN, None), (GTIN, "lot1")):
        with pytest.raises(InvalidSerial) as caught:
            codec.verify(serial, gtin, lot)
        assert caught.value.reason == "bad_signature"
    without_lot = codec.encode(42, GTIN, None)
    with pytest.raises(InvalidSerial):
        codec.verify(without_lot, GTIN, "LOT1")


@pytest.mark.parametrize("serial", ["", "ABC", "0" * 19, "0" * 21, "0UUUUUUUUUUUUUUUUUUU",
                                    "0abcdefghjkmnpqrstvw", "0000000000000000000!"])
@pytest.mark.no_storage
def test_malformed_serials_say_bad_format(codec, serial):
    with pytest.raises(InvalidSerial) as caught:
        codec.verify(serial, GTIN, None)
    assert caught.value.reason == "bad_format"


def test_unknown_key_id(codec):
    serial = codec.encode(5, GTIN, None)
    forged = "Z" + serial[1:]
    with pytest.raises(InvalidSerial) as caught:
        codec.verify(forged, GTIN, None)
    assert caught.value.reason == "unknown_key"


def test_serials_differ_between_deployments_with_different_master_keys(app_factory):
    one = app_factory(SERIAL_KEY="first-master-key-" + "a" * 20)
    with one.app_context():
        serial = services(one).codec.encode(9, GTIN, None)
        assert services(one).codec.verify(serial, GTIN, None) == 9
    two = app_factory(SERIAL_KEY="second-master-key-" + "b" * 20)
    with two.app_context():
        # Same database, same key row and salt; only the master key differs.
        with pytest.raises(InvalidSerial) as caught:
            services(two).codec.verify(serial, GTIN, None)
        assert caught.value.reason == "bad_signature"


# -- found by mutation testing (scripts/mutation.sh codec) ----------------------------------

def test_sequence_numbers_outside_the_55_bit_space_are_refused(codec):
    assert codec.verify(codec.encode(MAX_SEQ - 1, GTIN, None), GTIN, None) == MAX_SEQ - 1
    for seq in (MAX_SEQ, MAX_SEQ + 1, -1):
        with pytest.raises(ValueError, match="out of range"):
            codec.encode(seq, GTIN, None)


def test_encode_with_an_older_key_signs_with_that_key(codec, admin):
    old = codec.active_key_id()
    rotated = admin.post("/api/v1/signing-keys/rotate", json={"note": "yearly"})
    assert rotated.status_code == 201, rotated.get_json()
    new = rotated.get_json()["id"]
    codec.invalidate()
    by_old = codec.encode(77, GTIN, None, key_id=old)
    by_new = codec.encode(77, GTIN, None)
    assert by_old[0] == ALPHABET[old] and by_new[0] == ALPHABET[new]
    assert codec.verify(by_old, GTIN, None) == codec.verify(by_new, GTIN, None) == 77
    assert by_old != by_new


def test_a_bulk_encoder_reused_chunk_by_chunk_matches_the_signer(codec):
    """Downloads ask one encoder for many chunks; its round-0 cache must follow the high
    bits of every chunk, including a first chunk whose high part is 1."""
    signer = codec.signer()
    encoder = codec.range_encoder(GTIN, "L1", signer.key_id)
    chunks = [(2**28, 2**28 + 3), (2**28 + 3, 2**28 + 6), (5, 9), (2**29 + 1, 2**29 + 4),
              (2**29 + 4, 2**29 + 6)]
    for start, stop in chunks:
        assert encoder.serial_list(start, stop) == [signer.sign(q, GTIN, "L1")
                                                    for q in range(start, stop)]


def test_a_refused_serial_says_why_in_the_error(codec):
    good = codec.encode(5, GTIN, None)
    cases = {"bad_format": good.lower(), "bad_signature": good[:-1] + (
        "0" if good[-1] != "0" else "1"), "unknown_key": ALPHABET[31] + good[1:]}
    for reason, serial in cases.items():
        with pytest.raises(InvalidSerial) as caught:
            codec.verify(serial, GTIN, None)
        error = caught.value
        assert error.reason == reason and error.code == "invalid_serial"
        assert error.details == {"reason": reason} and error.message
        assert str(error) == error.message


# Stamps printed yesterday must verify today: the derivation of keys from SERIAL_KEY and the
# stored salt, the permutation and the tag are frozen. These serials were computed once by
# this code (2026-11-29) for the test SERIAL_KEY; a change to any of it changes them.
GOLDEN_SALT = "00112233445566778899aabbccddeeff"
GOLDEN = [(0, None, "075X30A32JF82X4CXM4V"), (12345, None, "0NCG9MTCSDQMTSHSE7CN"),
          (12345, "L2411", "0NCG9MTCSDQM97DP6REF"), (2**40 + 7, "Lô-7", "00PTPVKB1JPYVDJ0XZ20")]


def test_serials_of_a_stored_key_never_change(app):
    from scanapp.db import session_scope, utcnow
    from scanapp.serials.models import SigningKey

    with session_scope(app) as session:  # key 0 as a database restored from backup has it
        session.add(SigningKey(id=0, status="active", salt=GOLDEN_SALT, created_at=utcnow()))
        session.commit()
    with app.app_context():
        codec = services(app).codec
        codec.invalidate()
        for seq, lot, serial in GOLDEN:
            assert codec.encode(seq, GTIN, lot) == serial
            assert codec.range_encoder(GTIN, lot, 0).serial_list(seq, seq + 1) == [serial]
            assert codec.verify(serial, GTIN, lot) == seq

