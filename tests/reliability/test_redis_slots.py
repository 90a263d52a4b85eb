"""Redis Cluster readiness on a single Redis: keys that are used together share a hash slot.

Every command the app sends during a representative flow (first scans, repeats, reloads,
PIN checks, read-only verification, a bucket rebuild after a flush, the rate limiter) is
recorded; any command or script call whose keys span two hash slots fails, as do commands
that would only see one node of a cluster (KEYS, SCAN) or wipe it (FLUSHDB, FLUSHALL).
CI also runs the whole services half of the suite on a real three-master cluster
(.ci/run), where the server itself refuses cross-slot commands.
"""

from __future__ import annotations

import pytest
import redis
from redis.crc import key_slot

from scanapp.redis_client import ScriptPipeline
from scanapp.scan.redis_store import bucket_of
from scanapp.serials.stamps import stamp_uri
from scanapp.services import services
from tests.conftest import REDIS_CLUSTER

from ..security.conftest import issue_range, serials_of

# Commands whose every argument after the name is a key.
ALL_KEYS = {"DEL", "UNLINK", "EXISTS", "MGET", "TOUCH", "WATCH", "SUNION", "SINTER", "SDIFF"}
NODE_LOCAL = {"KEYS", "SCAN", "FLUSHDB", "FLUSHALL", "RANDOMKEY", "DBSIZE"}


def keys_of(args) -> list:
    name = str(args[0]).upper()
    if name in ("EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "FCALL"):
        return list(args[3:3 + int(args[2])])
    if name in ALL_KEYS:
        return list(args[1:])
    if name in ("MSET", "MSETNX"):
        return list(args[1::2])
    return list(args[1:2])


class Recorder:
    def __init__(self):
        self.commands: list[tuple] = []

    def check(self) -> list[str]:
        problems = []
        for args in self.commands:
            name = str(args[0]).upper()
            if name in NODE_LOCAL:
                problems.append(f"{name} sees one node of a cluster only: {args[:3]}")
                continue
            slots = {key_slot(k if isinstance(k, bytes) else str(k).encode())
                     for k in keys_of(args)}
            if len(slots) > 1:
                problems.append(f"{name} spans slots {sorted(slots)}: {args[:6]}")
        return problems


@pytest.fixture
def recorder(monkeypatch):
    if REDIS_CLUSTER:
        pytest.skip("on a real cluster the server itself refuses cross-slot commands")
    rec = Recorder()
    execute = redis.Redis.execute_command
    pipeline_execute = redis.client.Pipeline.execute

    def spy(self, *args, **options):
        rec.commands.append(args)
        return execute(self, *args, **options)

    def spy_pipeline(self, *args, **kwargs):
        for command in self.command_stack:
            rec.commands.append(command.args if hasattr(command, "args") else command[0])
        return pipeline_execute(self, *args, **kwargs)

    # The single-node client's own pipeline (scanapp.redis_client.ScriptPipeline) packs
    # EVALSHA batches itself instead of calling Pipeline.execute: spy on it too.
    script_execute = ScriptPipeline.execute

    def spy_script_pipeline(self, *args, **kwargs):
        # (a batch it hands to Pipeline.execute is recorded twice: harmless for the check)
        for command in self.command_stack:
            rec.commands.append(command.args if hasattr(command, "args") else command[0])
        return script_execute(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "execute_command", spy)
    monkeypatch.setattr(redis.client.Pipeline, "execute", spy_pipeline)
    monkeypatch.setattr(ScriptPipeline, "execute", spy_script_pipeline)
    return rec


@pytest.mark.parametrize("stack", ["services"], indirect=True)
def test_no_command_of_a_scan_flow_spans_hash_slots(app_factory, make_actor, recorder,
                                                   brand, product):
    limited = app_factory(RATELIMIT_ENABLED=True, RATELIMIT_SCAN="10000/minute",
                          RATELIMIT_DEVICE="10000/minute")
    client = limited.test_client()
    rng = issue_range(brand, product["gtin"], quantity=40, pin=True)
    serials = serials_of(brand, rng["id"])
    uris = [stamp_uri("https://scan.example.vn", product["gtin"], s) for s in serials]
    for n, uri in enumerate(uris):
        for device in ("d1", "d1", f"d{n}"):  # a first scan, a reload, another phone
            response = client.post("/api/v1/scans", json={"code": uri, "device_id": device,
                                                          "lat": 21.03, "lon": 105.85})
            assert response.status_code == 200, response.get_json()
        client.get(f"/api/v1/verification/01/{product['gtin']}/21/{serials[n]}")
    client.post("/api/v1/scans/pin", json={"code": uris[0], "pin": "00000000",
                                           "device_id": "d1"})
    # A flushed bucket is rebuilt from the database in one pipeline.

    with limited.app_context():
        store = services(limited).scan.store
    store._client.delete(store.keys_for(serials[1])[0])
    assert client.post("/api/v1/scans", json={"code": uris[1]}).status_code == 200
    assert bucket_of(serials[1]) is not None

    scripts = [c for c in recorder.commands if str(c[0]).upper() in ("EVALSHA", "EVAL")]
    assert len(scripts) >= len(uris) * 3  # the recorder saw the scan path's calls
    problems = recorder.check()
    assert not problems, "\n".join(problems[:20])


def test_the_recorder_catches_cross_slot_and_node_local_commands():
    rec = Recorder()
    rec.commands = [("DEL", "scanapp:{b1}:c:x", "scanapp:{b1}:d:x"),
                    ("EVALSHA", "sha", 2, "scanapp:{b1}:ready", "scanapp:{b1}:c:x", "scan")]
    assert rec.check() == []
    rec.commands += [("DEL", "scanapp:{b1}:c:x", "scanapp:{b2}:c:x"), ("SCAN", 0),
                     ("EVALSHA", "sha", 2, "a", "b")]
    assert len(rec.check()) == 3
