"""The demo chain: backward from a stamp to its farm, forward from a farm lot to every stamp."""

from __future__ import annotations

from scanapp.demo import seed_demo
from scanapp.trace import demo


def test_the_longan_demo_traces_both_ways_and_shows_the_recall(app, admin, anonymous):
    seed_demo(app, echo=lambda *a, **k: None)
    seed_demo(app, echo=lambda *a, **k: None)  # idempotent
    box = admin.get(f"/api/v1/trace/lots?gtin={demo.BOX_GTIN}&lot={demo.BOX_LOT}").get_json()[0]
    back = admin.get(f"/api/v1/trace/lots/{box['id']}/lineage/backward").get_json()
    assert sorted(x["lot"] for x in back["farm_lots"]) == ["NH2607A", "NH2607B"]
    assert "VN-HYLN-0012" in {p["planting_area_code"] for p in back["places"]}
    farm = admin.get(f"/api/v1/trace/lots?gtin={demo.FRESH_GTIN}&lot=NH2607A").get_json()[0]
    forward = admin.get(f"/api/v1/trace/lots/{farm['id']}/lineage/forward").get_json()
    assert [x["lot"] for x in forward["downstream"]] == ["LNK2608", demo.BOX_LOT]
    assert forward["stamps"] == 50
    assert {p["province"] for p in forward["scanned_in"]} >= {"01"}
    recalled = admin.get(f"/api/v1/trace/lots?gtin={demo.BOX_GTIN}&lot=LN2609H").get_json()[0]
    assert recalled["status"] == "recalled"
    view = anonymous.get(f"/api/v1/trace/public/lots/{demo.BOX_GTIN}/{demo.BOX_LOT}").get_json()
    assert view["origin"]["planting_area_code"] == "VN-HYLN-0012"
    assert {c["scheme"] for c in view["certificates"]} == {"vietgap", "ocop",
                                                           "food_safety_facility"}


def test_trace_commands_follow_a_stamp_back_and_a_farm_lot_forward(app):
    import json

    seed_demo(app, echo=lambda *a, **k: None)
    stamp = demo.first_stamp(app, demo.BOX_LOT)
    runner = app.test_cli_runner()
    back = runner.invoke(args=["trace", "stamp", stamp])
    assert back.exit_code == 0, back.output
    found = json.loads(back.output)
    assert sorted(x["lot"] for x in found["farm_lots"]) == ["NH2607A", "NH2607B"]
    forward = runner.invoke(args=["trace", "lineage", demo.FRESH_GTIN, demo.RECALLED_LOT,
                                  "--forward"])
    assert forward.exit_code == 0, forward.output
    downstream = json.loads(forward.output)["downstream"]
    assert {x["lot"]: x["status"] for x in downstream} == {"LNK2609": "recalled",
                                                          "LN2609H": "recalled"}
    forged = runner.invoke(args=["trace", "stamp", stamp[:-12] + "0000000000?17=270802"])
    assert forged.exit_code != 0
