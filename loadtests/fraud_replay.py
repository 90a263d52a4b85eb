"""The fraud harness's events replayed through the pure rules only: seconds, not minutes.

    PYTHONPATH=$PWD python -m loadtests.fraud_replay --seed 2026 [--seed 7 ...]

The same populations and random draws as ``loadtests.fraud_harness`` (same seed, same
events), judged by ``scanapp.risk.engine.assess`` over a history kept the way the scan
state stores keep it (counted scans, page reloads within 60 s by the same phone, the last
20 places, per-network shares, PIN claimers). No app, no database, no hotspots: a quick
check of a rule change on many seeds before the real harness (the figures the docs
publish) is run. Where the two differ, the harness is right.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
from collections import defaultdict

from loadtests.fraud_harness import POPULATIONS, Event, _forged_serial
from scanapp.regions import default_locator
from scanapp.risk.engine import assess
from scanapp.risk.facts import MAX_SCANS_PER_NETWORK, CodeHistory, RangeFacts, ScanFacts, ScanPlace

RELOAD_S = 60.0
RECENT = 20
MARKET_RANGE = RangeFacts(range_id=1, status="activated", market_regions=("01", "79"))


@dataclasses.dataclass
class CodeState:
    places: list[ScanPlace] = dataclasses.field(default_factory=list)  # oldest first
    last_seen: dict[str, object] = dataclasses.field(default_factory=dict)
    shares: dict[str, int] = dataclasses.field(default_factory=dict)
    claimers: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    claims: int = 0

    def history(self) -> CodeHistory:
        capped = sum(min(n, MAX_SCANS_PER_NETWORK) for n in self.shares.values())
        return CodeHistory(scan_count=len(self.places), device_count=len(self.last_seen),
                           first_scan=self.places[0] if self.places else None,
                           recent=tuple(reversed(self.places[-RECENT:])),
                           pin_claims=self.claims, network_count=len(self.shares),
                           capped_scan_count=capped,
                           pin_claimers=tuple(sorted(self.claimers)))


def _place(event: Event) -> ScanPlace:
    lat, lon = event.point if event.point else (None, None)
    lat = None if lat is None else round(lat, 3)
    lon = None if lon is None else round(lon, 3)
    province = default_locator.province_at(lat, lon) if lat is not None else None
    accuracy = None if event.accuracy_m is None or lat is None else round(event.accuracy_m, 1)
    return ScanPlace(at=event.at, lat=lat, lon=lon, province=province,
                     device_hash=event.device, accuracy_m=accuracy, network=event.network)


@dataclasses.dataclass
class Outcome:
    population: str
    copy_scans: int = 0
    first_flag: int | None = None
    flagged: bool = False
    owner_warned: bool = False
    reasons: set[str] = dataclasses.field(default_factory=set)
    shelf_like: bool = False  # see _shelf_like


def replay(seed: int, settings: dict[str, float] | None = None) -> dict[str, list[Outcome]]:
    rng = dataclasses.replace(MARKET_RANGE, settings=dict(settings or {}))
    rnd = random.Random(seed)
    plan = []
    outcomes: dict[tuple[str, int], Outcome] = {}
    events_of: dict[tuple[str, int], list[Event]] = {}
    for population in POPULATIONS:
        if population.forged:
            for _ in range(population.size):
                _forged_serial(rnd)
            for index in range(population.size):
                population.make(rnd, index)
            continue
        for index in range(population.size):
            key = (population.name, index)
            outcomes[key] = Outcome(population.name)
            events_of[key] = population.make(rnd, index)
            for event in events_of[key]:
                plan.append((event, key))
    plan.sort(key=lambda item: item[0].at)
    states: dict[tuple[str, int], CodeState] = defaultdict(CodeState)
    for event, key in plan:
        state, outcome = states[key], outcomes[key]
        serial = f"{key[0]}-{key[1]}"
        if event.kind == "scan":
            place = _place(event)
            last = state.last_seen.get(event.device)
            if last is not None and (event.at - last).total_seconds() < RELOAD_S:
                history = state.history()
                recent = list(history.recent)
                for i, p in enumerate(recent):
                    if p.device_hash == event.device:
                        del recent[i]
                        break
                history = dataclasses.replace(history, recent=tuple(recent))
                counted = False
            else:
                history = state.history()
                state.places.append(place)
                state.last_seen[event.device] = event.at
                state.shares[event.network] = state.shares.get(event.network, 0) + 1
                history = dataclasses.replace(state.history(),
                                              recent=history.recent[:RECENT])
                counted = True
            facts = ScanFacts(serial=serial, gtin="0", place=place, standing="genuine",
                              is_repeat_of_same_device=not counted)
            result = assess(facts, history, rng)
            if result.suspicious and not event.copy:
                outcome.owner_warned = True
        else:
            state.claims += 1
            state.claimers.add((event.device, event.network))
            facts = ScanFacts(serial=serial, gtin="0", kind="pin", standing="genuine",
                              place=ScanPlace(at=event.at, device_hash=event.device,
                                              network=event.network))
            result = assess(facts, state.history(), rng)
            counted = True
        if event.copy:
            outcome.copy_scans += 1
        if result.flag and counted:  # a page reload is answered, never stored or flagged
            if not outcome.flagged and outcome.first_flag is None:
                outcome.first_flag = outcome.copy_scans
            outcome.flagged = True
            outcome.reasons.update(result.reasons)
    by_population: dict[str, list[Outcome]] = defaultdict(list)
    for key, outcome in outcomes.items():
        outcome.shelf_like = _shelf_like(events_of[key])
        by_population[outcome.population].append(outcome)
    return by_population


def _shelf_like(events: list[Event]) -> bool:
    """Whether a copied code's first three copy scans are what a shop shelf's first three
    parties are: three new phones, or two and the second seen again (taking it home), with
    no scan of the genuine item between. shop_display's shelf begins that way (assistant,
    shopper, buyer), so no rule can flag such a code by its third copy scan without flagging
    shelves: a bound on the median time to the first flag."""
    phones: list[str] = []
    for event in sorted(events, key=lambda e: e.at):
        if not event.copy:
            return False
        phones.append(event.device)
        if len(phones) == 3:
            break
    # (The first phone seen again would be a buyer who left before the second came: sold.)
    return len(phones) == 3 and phones[0] != phones[1] and phones[2] != phones[0]


def summary(seed: int, settings: dict[str, float] | None = None) -> list[str]:
    by_population = replay(seed, settings)
    lines = [f"seed {seed}"]
    genuine = flagged = 0
    firsts = []
    for population in POPULATIONS:
        items = by_population.get(population.name)
        if not items:
            continue
        n_flagged = sum(o.flagged for o in items)
        warned = sum(o.owner_warned for o in items)
        if population.genuine:
            genuine += len(items)
            flagged += n_flagged
            lines.append(f"  {population.name:15} {n_flagged:4}/{len(items):4} flagged, "
                         f"{warned} warned")
        else:
            eligible = [o for o in items
                        if o.copy_scans >= 5 or population.name == "pin_double"]
            first = [o.first_flag for o in items if o.first_flag is not None]
            firsts += first
            lines.append(
                f"  {population.name:15} {n_flagged:4}/{len(items):4} flagged, eligible "
                f"{sum(o.flagged for o in eligible)}/{len(eligible)}, median first "
                f"{statistics.median(first) if first else None}, max "
                f"{max(first) if first else None}, owner warned {warned}"
                + (f", like a shelf by the 3rd copy scan {sum(o.shelf_like for o in items)}"
                   if population.name == "copies_market" else ""))
    lines.append(f"  all genuine {flagged}/{genuine} = {100 * flagged / genuine:.2f} %, "
                 f"all copied median first {statistics.median(firsts)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, action="append")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a product's fraud setting (e.g. max_parties=3), as a brand "
                             "would set it: for trade-off curves")
    args = parser.parse_args(argv)
    settings = {}
    for item in args.setting:
        name, _, value = item.partition("=")
        settings[name] = float(value)
    for seed in args.seed or [2026]:
        for line in summary(seed, settings):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
