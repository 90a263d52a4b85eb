"""The demo: Hưng Yên's authority key is printed; the longan chain stays silent and
published; the sloppier producer waits for review and trips several rules."""

from __future__ import annotations

from scanapp.authority import demo as authority_demo
from scanapp.demo import seed_demo
from scanapp.trace import demo as trace_demo
from tests.conftest import Actor


def test_demo_authority_and_sloppy_producer(app, client, anonymous):
    printed: list[str] = []
    info = seed_demo(app, echo=lambda *a, **k: printed.append(" ".join(map(str, a))))
    seed_demo(app, echo=lambda *a, **k: None)  # idempotent
    key = info["authority_key"]
    assert any(f"Bearer {key}" in line for line in printed)
    authority = Actor(client, key, "authority")
    findings = authority.get("/api/v1/authority/findings").get_json()
    rules = {f["rule"] for f in findings}
    assert rules >= {"shared_code", "gtin_prefix", "cert_invalid_at_event",
                     "output_exceeds_input", "label_not_trace"}, findings
    # Every finding is about the sloppy producer, none about the longan chain.
    chain_gtins = {trace_demo.FRESH_GTIN, trace_demo.DRIED_GTIN, trace_demo.BOX_GTIN}
    assert not {f["gtin"] for f in findings} & chain_gtins
    sloppy = {authority_demo.BORROWED_GTIN, authority_demo.DRIED_GTIN, authority_demo.BAG_GTIN}
    assert all(f["gtin"] in sloppy for f in findings if f["rule"] != "shared_code")
    [shared] = [f for f in findings if f["rule"] == "shared_code"]
    assert "Hưng Phát" in shared["message_vi"] and "VN-HYLN-0012" in shared["message_vi"]
    assert len(findings) == len({f["id"] for f in findings})
    pending = authority.get("/api/v1/authority/reviews?state=pending").get_json()
    assert any("Hưng Phát" in i["title"] for i in pending)
    assert not any("Tiên Lữ" in i["title"] for i in pending)
    view = anonymous.get(f"/api/v1/trace/public/lots/{trace_demo.BOX_GTIN}/"
                         f"{trace_demo.BOX_LOT}").get_json()
    assert view["producer"] is not None and view["certificates"]
