"""Redis Cluster specifics: the per-test key wipe reaches every node, and a cluster that is
unreachable at start-up degrades the service instead of stopping it.

The suite as a whole runs on a three-master cluster in CI (.ci/run, scripts/redis-cluster.sh):
SCANAPP_TEST_REDIS_URL=redis://127.0.0.1:7000/0 SCANAPP_TEST_REDIS_CLUSTER=1.
"""

from __future__ import annotations

import pytest

from scanapp import create_app
from scanapp.serials.stamps import stamp_uri
from tests.conftest import REDIS_CLUSTER, TEST_SECRETS, _wipe_redis

from ..security.conftest import issue_range, serials_of


def keys_per_node(client, pattern: str) -> dict[str, int]:
    counts = {}
    for node in client.get_primaries():
        found = client.scan_iter(match=pattern, count=1000, target_nodes=node)
        counts[node.name] = sum(1 for _ in found)
    return counts


@pytest.mark.parametrize("stack", ["services"], indirect=True)
def test_the_per_test_wipe_removes_keys_from_every_cluster_node(app, client, brand, product):
    if not REDIS_CLUSTER:
        pytest.skip("needs SCANAPP_TEST_REDIS_CLUSTER=1 (see scripts/redis-cluster.sh)")
    rng = issue_range(brand, product["gtin"], quantity=60)
    for serial in serials_of(brand, rng["id"]):
        uri = stamp_uri("https://scan.example.vn", product["gtin"], serial)
        assert client.post("/api/v1/scans", json={"code": uri}).status_code == 200
    redis_client = app.extensions["scanapp.redis"]
    pattern = app.config["REDIS_PREFIX"] + ":*"
    before = keys_per_node(redis_client, pattern)
    assert sum(1 for n in before.values() if n) >= 2, before  # the keys are spread out
    _wipe_redis(app)
    assert set(keys_per_node(redis_client, pattern).values()) == {0}


def test_an_unreachable_redis_cluster_at_start_up_degrades_instead_of_crashing(tmp_path):
    """A worker must boot while the cluster is down, as it does with a single Redis, and
    answer from the database. redis-py's RedisCluster connects in its constructor, so
    make_redis has to build it lazily (it did not at first: create_app raised)."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/c.db", "REDIS_CLUSTER": True,
                      "REDIS_URL": "redis://127.0.0.1:1/0", **TEST_SECRETS})
    try:
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["redis"].startswith("unavailable")
    finally:
        from scanapp.db import get_engine

        get_engine(app).dispose()
