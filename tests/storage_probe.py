"""Which two-stack tests touch no storage, and where a test's time goes (a pytest plugin).

    pytest -p tests.storage_probe tests/<part>   # -n 0 with pytest-xdist: one process

For every test it records the time of its setup, call and teardown, the time its ``app``
fixture took to build, and how many SQL statements and Redis commands ran after its app was
built (the teardown's table wipe and Redis clean-up excluded). At the end it lists the tests
that ran on both stacks and touched neither the database nor Redis on either: candidates for
``@pytest.mark.no_storage`` (tests/README.md). The records go to
``$SCANAPP_TEST_PROBE`` (default test-artifacts/storage-probe.jsonl), one JSON line a test.

A probe, not a proof: code that the test did not reach this time is not counted, so read
the test before marking it; the ``app`` fixture then refuses a marked test that runs SQL.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

_counts = {"sql": 0, "redis": 0}
_quiet = threading.local()  # set while the fixtures clean up after a test
_tests: dict[str, dict] = {}
_done: list[dict] = []


def _count(kind: str) -> None:
    if not getattr(_quiet, "on", False):
        _counts[kind] += 1


def _wrap_redis(cls, name: str) -> None:
    original = getattr(cls, name)

    def counted(self, *args, **kwargs):
        _count("redis")
        return original(self, *args, **kwargs)

    setattr(cls, name, counted)


def pytest_configure(config):
    import redis.client
    import redis.cluster
    import sqlalchemy as sa

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", lambda *_a: _count("sql"))
    for cls, name in ((redis.client.Redis, "execute_command"),
                      (redis.client.Pipeline, "execute"),
                      (redis.cluster.RedisCluster, "execute_command"),
                      (redis.cluster.ClusterPipeline, "execute")):
        _wrap_redis(cls, name)


def pytest_collection_finish(session):
    conftest = sys.modules.get("tests.conftest")
    for name in ("_wipe_database", "_wipe_redis"):
        original = getattr(conftest, name, None)
        if original is None:
            continue

        def quiet(*args, _original=original, **kwargs):
            _quiet.on = True
            try:
                return _original(*args, **kwargs)
            finally:
                _quiet.on = False

        setattr(conftest, name, quiet)
    savepoints = sys.modules.get("tests.savepoints")
    if savepoints is not None:  # statements run on the shared connection, below SQLAlchemy
        run = savepoints._Cursor._run

        def counted(self, method, statement, *args, **kwargs):
            _count("sql")
            return run(self, method, statement, *args, **kwargs)

        savepoints._Cursor._run = counted


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    started = time.perf_counter()
    yield
    if fixturedef.argname == "app":
        record = _tests.setdefault(request.node.nodeid, {})
        record["app_s"] = round(time.perf_counter() - started, 4)
        record["after_app"] = dict(_counts)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    record = _tests.setdefault(item.nodeid, {})
    record.setdefault("phases", {})[call.when] = round(report.duration, 4)
    if report.failed:
        record["failed"] = True
    if call.when == "teardown":
        after = record.pop("after_app", None)
        if after is not None:
            record["sql"] = _counts["sql"] - after["sql"]
            record["redis"] = _counts["redis"] - after["redis"]
        _done.append({"id": item.nodeid, **_tests.pop(item.nodeid)})


_STACK = re.compile(r"(?<=[\[-])(embedded|services)(?=[\]-])")


def pytest_sessionfinish(session):
    if not _done:
        return
    path = Path(os.environ.get("SCANAPP_TEST_PROBE")
                or Path(__file__).parent.parent / "test-artifacts" / "storage-probe.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for record in _done:
            handle.write(json.dumps(record) + "\n")
    pairs: dict[str, dict] = defaultdict(dict)
    for record in _done:
        name, _, params = record["id"].partition("[")
        found = _STACK.search(params)
        if found and "sql" in record:
            pairs[name + "[" + _STACK.sub("*", params)][found.group(1)] = record
    untouched = sorted(key for key, by_stack in pairs.items() if len(by_stack) == 2
                       and all(r["sql"] == r["redis"] == 0 and not r.get("failed")
                               for r in by_stack.values()))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("-", f"storage probe: {len(untouched)} of {len(pairs)} two-stack "
                                f"tests touched no storage on either stack ({path})")
        for key in untouched:
            reporter.write_line(key)
