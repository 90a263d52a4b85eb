"""GS1 keys as URNs and Digital Links: parsed, normalised to one form, and back."""

import pytest

from scanapp.epcis import identifiers as ids


@pytest.mark.parametrize("urn, link", [
    ("urn:epc:id:sgtin:0614141.107346.2017", "https://id.gs1.org/01/10614141073464/21/2017"),
    ("urn:epc:class:lgtin:4012345.012345.998877",
     "https://id.gs1.org/01/04012345123456/10/998877"),
    ("urn:epc:id:sgln:0614141.07346.1234", "https://id.gs1.org/414/0614141073467/254/1234"),
    ("urn:epc:id:sgln:0012345.11111.0", "https://id.gs1.org/414/0012345111112"),
    ("urn:epc:id:pgln:9520001.11111", "https://id.gs1.org/417/9520001111112"),
    ("urn:epc:id:sscc:0614141.1234567890", "https://id.gs1.org/00/106141412345678908"),
])
def test_urn_and_digital_link_name_the_same_key(urn, link):
    assert ids.canonical(urn) == link
    assert ids.canonical(link) == link
    gcp = len(urn.rsplit(":", 1)[1].split(".")[0])
    assert ids.to_urn(link, gcp) == urn


def test_any_domain_and_the_lot_of_an_item():
    found = ids.parse("https://scan.example.vn/01/8935001234562/10/L%2F1/21/ABC")
    assert found.kind == "sgtin" and found.gtin == "08935001234562"
    # The lot is not part of an SGTIN's key; it is kept as the item's class.
    assert found.uri == "https://id.gs1.org/01/08935001234562/21/ABC"
    assert found.lot_class == "https://id.gs1.org/01/08935001234562/10/L%2F1"
    assert ids.canonical("https://resolver.example.com/dl/01/08935001234562") \
        == "https://id.gs1.org/01/08935001234562"


def test_escapes_round_trip():
    urn = "urn:epc:class:lgtin:4012345.012345.A%2FB%25"
    link = ids.canonical(urn)
    assert link == "https://id.gs1.org/01/04012345123456/10/A%2FB%25"
    assert ids.parse(link).lot == "A/B%"
    assert ids.to_urn(link, 7) == urn


def test_other_identifiers_pass_through():
    assert ids.parse("urn:uuid:6b3a6b5e-0000-4000-8000-000000000000") is None
    assert ids.canonical(" https://example.com/things/1 ") == "https://example.com/things/1"
    assert ids.canonical("urn:epc:id:grai:0614141.12345.400") == \
        "urn:epc:id:grai:0614141.12345.400"


@pytest.mark.parametrize("bad", [
    "https://id.gs1.org/01/08935001234563/21/1",  # check digit
    "https://id.gs1.org/414/1234567890123",  # GLN check digit
    "https://id.gs1.org/01/08935001234562/21/" + "X" * 21,  # serial too long
    "https://id.gs1.org/01/08935001234562/21",  # AI without value
    "https://id.gs1.org/01/08935001234562/99/1",  # not a qualifier of 01
    "urn:epc:id:sgtin:0614141.10734.2017",  # 12 digits
    "urn:epc:id:sgln:0614141.07346",  # missing extension
])
def test_invalid_gs1_keys_are_refused(bad):
    with pytest.raises(ids.InvalidIdentifier):
        ids.parse(bad)
    assert ids.canonical_or_none(bad) is None


def test_idpat_names_a_whole_gtin():
    assert ids.canonical("urn:epc:idpat:sgtin:0614141.107346.*") == \
        "https://id.gs1.org/01/10614141073464"
    assert ids.gtin_of("urn:epc:id:sgtin:0614141.107346.2017") == "10614141073464"
    assert ids.gtin_of("urn:uuid:x") is None
