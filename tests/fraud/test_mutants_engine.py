"""The risk engine's promises that mutation testing found untested (docs/RELIABILITY.md,
"Mutation testing", scanapp/risk/engine.py): a broken rule hides no other signal and is
logged by name, one signal of exactly half the risk warns the consumer, and the PIN's
household count follows the claimers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from scanapp.risk import engine
from scanapp.risk.engine import assess, pin_households
from scanapp.risk.facts import CodeHistory, RangeFacts, ScanFacts, ScanPlace
from scanapp.risk.rules import RULES, RULES_BY_ID

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def _scan(kind="scan") -> ScanFacts:
    return ScanFacts(serial="1ABCDEFGHJKMNPQRSTVW", gtin="08934567890120",
                     place=ScanPlace(at=T0, device_hash="d1", network="n1"),
                     standing="genuine", kind=kind)


def _rng(**settings) -> RangeFacts:
    return RangeFacts(range_id=1, status="activated", market_regions=(), settings=settings)


def _broken(scan, history, rng, settings):
    raise ZeroDivisionError("odd input")


def test_a_broken_rule_hides_no_later_rule_and_is_logged_by_name(monkeypatch, caplog):
    # The broken rule comes first: the rules after it are still evaluated.
    broken = dataclasses.replace(RULES[0], id="broken_rule", evaluate=_broken)
    monkeypatch.setattr(engine, "RULES", (broken, *RULES))
    history = CodeHistory(scan_count=1, device_count=1, pin_failures=6)
    with caplog.at_level(logging.ERROR, logger="scanapp.risk.engine"):
        result = assess(_scan("pin"), history, _rng())
    assert result.reasons == ("pin_guessing",)
    assert result.risk == 50
    # An operator reads which rule failed, and that it counted as not fired.
    messages = [r.getMessage() for r in caplog.records]
    assert any("broken_rule" in m and "failed" in m for m in messages), messages


def test_one_signal_of_exactly_half_the_risk_warns_the_consumer():
    # pin_guessing weighs 0.5 and is at full strength from twice its limit (6 wrong PINs
    # for 3): it adds exactly STRONG_SIGNAL, which is "strong" (at or above).
    assert RULES_BY_ID["pin_guessing"].weight == engine.STRONG_SIGNAL
    history = CodeHistory(scan_count=1, device_count=1, pin_failures=6)
    result = assess(_scan("pin"), history, _rng(suspicious_at=50))
    assert result.reasons == ("pin_guessing",) and result.risk == 50
    assert result.suspicious and result.flag
    # Below it (5 wrong PINs: strength 0.83, adds 0.42) no single signal is strong.
    weaker = assess(_scan("pin"), dataclasses.replace(history, pin_failures=5),
                    _rng(suspicious_at=40))
    assert weaker.reasons == ("pin_guessing",) and weaker.risk >= 40
    assert not weaker.suspicious


def test_pin_households_counts_unrelated_claimers():
    scan = _scan("pin")
    assert pin_households(scan, CodeHistory(), _rng()) == 0
    one = CodeHistory(pin_claims=1, pin_claimers=(("a", "net-a"),))
    assert pin_households(scan, one, _rng()) == 1
    same_phone = CodeHistory(pin_claims=2, pin_claimers=(("a", "net-a"), ("a", "net-b")))
    assert pin_households(scan, same_phone, _rng()) == 1
    strangers = CodeHistory(pin_claims=2, pin_claimers=(("a", "net-a"), ("b", "net-b")))
    assert pin_households(scan, strangers, _rng()) == 2
