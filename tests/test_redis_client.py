"""The single-node client's script pipeline (scanapp/redis_client.py ``ScriptPipeline``)
answers exactly as redis-py's own pipeline: same replies, same errors in place, the same
fallback for every batch it does not handle itself."""

from __future__ import annotations

import secrets

import pytest
import redis
from redis.client import Pipeline
from redis.exceptions import NoScriptError, ResponseError

from scanapp.redis_client import ScanRedis, ScriptPipeline, make_redis

from .conftest import REDIS_URL

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs SCANAPP_TEST_REDIS_URL")

STATE = "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1, redis.call('INCR', KEYS[2])}"
FAILS = "return redis.error_reply('ERR refused here')"


@pytest.fixture
def clients():
    prefix = f"test-pipe-{secrets.token_hex(4)}"
    lean = make_redis(REDIS_URL)
    plain = redis.Redis.from_url(REDIS_URL)
    yield lean, plain, prefix
    for key in plain.scan_iter(match=prefix + ":*"):
        plain.delete(key)
    lean.close()
    plain.close()


def _batch(client, calls, raise_on_error=False):
    pipe = client.pipeline(transaction=False)
    for call in calls:
        pipe.execute_command("EVALSHA", *call)
    return pipe.execute(raise_on_error=raise_on_error)


def _shape(replies):
    return [(type(r).__name__, str(r)) if isinstance(r, Exception) else r for r in replies]


def test_single_node_clients_use_it_and_transactions_do_not(clients):
    lean, _plain, _prefix = clients
    assert isinstance(lean, ScanRedis)
    assert type(lean.pipeline(transaction=False)) is ScriptPipeline
    assert type(lean.pipeline()) is Pipeline


def test_evalsha_batches_answer_as_redis_py_does(clients):
    lean, plain, prefix = clients
    state, fails = plain.script_load(STATE), plain.script_load(FAILS)
    missing = "0" * 40
    calls = [(state, 2, f"{prefix}:a", f"{prefix}:n", "scan", 41),
             (missing, 0),  # NOSCRIPT, in place: the caller loads it and sends it again
             (fails, 0),
             (state, 2, f"{prefix}:é", f"{prefix}:n", "ü", -3)]
    got, expected = _batch(lean, calls), _batch(plain, calls)
    assert isinstance(got[1], NoScriptError) and isinstance(got[2], ResponseError)
    # The counter moved once per call on each side: 1, 2 then 3, 4.
    assert _shape(got) == _shape([[*expected[0][:3], 1], expected[1], expected[2],
                                  [*expected[3][:3], 2]])
    assert expected[0][3] == 3 and expected[3][3] == 4
    with pytest.raises(ResponseError, match="refused here"):
        _batch(lean, calls[2:3], raise_on_error=True)
    # The connection went back to the pool in a clean state.
    assert lean.ping() and lean.get(f"{prefix}:n") == b"4"


def test_other_batches_are_redis_pys(clients):
    lean, _plain, prefix = clients
    pipe = lean.pipeline(transaction=False)
    pipe.incr(f"{prefix}:x").set(f"{prefix}:y", "1").get(f"{prefix}:y")
    assert pipe.execute() == [1, True, b"1"]
    pipe = lean.pipeline(transaction=False)
    pipe.execute_command("EVALSHA", "0" * 40, 0, keys=[])  # options: redis-py's way
    assert isinstance(pipe.execute(raise_on_error=False)[0], NoScriptError)
    assert lean.pipeline(transaction=False).execute() == []


def test_a_dead_server_raises_a_connection_error():
    lean = make_redis("redis://127.0.0.1:1/0")
    with pytest.raises(redis.ConnectionError):
        _batch(lean, [("0" * 40, 0)])
