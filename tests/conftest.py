"""Shared fixtures.

Every test that takes ``app`` (or anything built on it) runs once per *stack*:

- ``embedded``: a SQLite file and no Redis, the service's first-run default;
- ``services``: PostgreSQL and Redis from ``SCANAPP_TEST_DATABASE_URL`` and
  ``SCANAPP_TEST_REDIS_URL``; skipped with the reason when they are not set, and a hard
  failure instead when ``SCANAPP_TEST_REQUIRE_SERVICES=1`` (CI sets it).

A test marked ``no_storage`` (its app touches neither the database nor Redis) runs once, on
the embedded stack.

Isolation: each test run creates its own PostgreSQL schema (dropped at the end) and its
own SQLite file; each test gets its own Redis key prefix and deletes only those keys. Each
pytest-xdist worker (`-n 2`, not the default: tests/README.md) is a test run of its own too.

Database rows, by default, are never really committed: the test's app runs on one database
connection inside a transaction that is rolled back when the test ends, and each commit of
the code under test is a SAVEPOINT (tests/savepoints.py). Tests that need their commits
visible to other connections (threads racing each other, the worker's relays, a real HTTP
server, subprocesses, gunicorn) are marked ``committed`` (or use a fixture that implies it:
``COMMITTED_FIXTURES``); they commit for real and every table is emptied after them.
tests/README.md has the rule.
"""

from __future__ import annotations

import itertools
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from scanapp import create_app
from scanapp import db as scanapp_db
from scanapp import migrations as scanapp_migrations
from scanapp.auth import service as auth_service
from scanapp.auth.models import Role
from scanapp.db import Base, make_engine, session_scope
from tests.savepoints import SharedConnection, engine_factory

PG_URL = os.environ.get("SCANAPP_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("SCANAPP_TEST_REDIS_URL")
REDIS_CLUSTER = os.environ.get("SCANAPP_TEST_REDIS_CLUSTER", "0") == "1"
REQUIRE = os.environ.get("SCANAPP_TEST_REQUIRE_SERVICES", "0") == "1"

# No test writes into the repository's instance/ folder (embedded database, dev secrets).
# One folder per process: pytest-xdist's workers inherit the controller's environment, and
# a folder made by the controller would be shared by every worker.
if "SCANAPP_INSTANCE_PATH" not in os.environ or os.environ.get("SCANAPP_TEST_OWN_INSTANCE"):
    os.environ["SCANAPP_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="scanapp-instance-")
    os.environ["SCANAPP_TEST_OWN_INSTANCE"] = "1"

def _memoize_werkzeug_url_builders() -> None:
    """Compile each URL builder once per test run instead of once per app.

    werkzeug compiles two Python functions per URL rule when an app registers it (AST built
    and ``compile``d): about three quarters of ``create_app``'s time, and the suite builds an
    app per test, each with the same ~125 rules. The compiled function depends only on what
    it is compiled from (the rule's parsed parts, its defaults, ``append_unknown``) and finds
    the converters on the rule it is bound to when called, so one compiled function serves
    every app. Tests only: production builds its app once per process."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    compiled: dict = {}

    def memoized(self, append_unknown: bool = True):
        defaults = self.defaults or {}
        key = (self.rule, tuple(self._trace), append_unknown,
               tuple(sorted((str(k), repr(v), type(self._converters.get(k)).__name__)
                            for k, v in defaults.items())))
        try:
            return compiled[key]
        except KeyError:
            function = compiled[key] = compile_builder(self, append_unknown)
            return function
        except TypeError:  # an unhashable part: compile as werkzeug does
            return compile_builder(self, append_unknown)

    Rule._compile_builder = memoized


_memoize_werkzeug_url_builders()

RUN_ID = secrets.token_hex(4)
_counter = itertools.count()

# Fixed test secrets: stamps issued in one test verify in the same test's app.
TEST_SECRETS = {
    "SECRET_KEY": "test-secret-key-" + "x" * 16,
    "SERIAL_KEY": "test-serial-key-" + "y" * 16,
    "PIN_KEY": "test-pin-key-" + "z" * 16,
}


def pytest_report_header(config):
    services = (f"services stack: PostgreSQL {PG_URL} + Redis {REDIS_URL}"
                f"{' (cluster)' if REDIS_CLUSTER else ''}" if PG_URL and REDIS_URL
                else "services stack: not configured (those tests will skip)")
    return ["stacks: embedded (SQLite, no Redis); " + services,
            f"missing services fail the run: {REQUIRE}"]


def missing_service(what: str) -> None:
    """Skip, or fail when CI demands the real services."""
    if REQUIRE:
        pytest.fail(f"{what} is required (SCANAPP_TEST_REQUIRE_SERVICES=1) but unavailable")
    pytest.skip(f"{what} not configured: set SCANAPP_TEST_DATABASE_URL and "
                "SCANAPP_TEST_REDIS_URL to run against PostgreSQL and Redis")


@dataclass
class Stack:
    name: str
    database_url: str
    schema: str | None
    redis_url: str | None
    _engine: sa.Engine | None = None

    def engine(self) -> sa.Engine:
        """The run's pooled engine on this stack; savepoint-mode tests borrow one of its
        connections for their whole duration."""
        if self._engine is None:
            self._engine = make_engine(self.database_url, self.schema, 5)
        return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def overrides(self) -> dict:
        return {
            "ENV": "testing",
            "TESTING": True,
            "DATABASE_URL": self.database_url,
            "DATABASE_SCHEMA": self.schema,
            "DATABASE_POOL_SIZE": 5,
            "REDIS_URL": self.redis_url,
            "REDIS_CLUSTER": REDIS_CLUSTER,
            "REDIS_PREFIX": f"scanapp-test-{RUN_ID}-{next(_counter)}",
            "AUTO_MIGRATE": False,
            "PUBLIC_BASE_URL": "https://scan.example.vn",
            "RATELIMIT_ENABLED": False,
            # Membership filters of 1 KiB a bucket (1 MiB in all) instead of production's
            # 128 KiB: a worker's rebuild makes all 1024, on the shared Redis.
            "SCAN_FILTER_BITS": 1 << 13,
            **TEST_SECRETS,
        }


def _migrated(stack: Stack) -> Stack:
    app = create_app(stack.overrides())
    scanapp_migrations.upgrade(app)
    from scanapp.db import get_engine

    get_engine(app).dispose()
    return stack


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory) -> Stack:
    path = tmp_path_factory.mktemp("db") / "scanapp-test.db"
    stack = _migrated(Stack("embedded", f"sqlite:///{path}", None, None))
    yield stack
    stack.dispose()


@pytest.fixture(scope="session")
def services_stack():
    if not PG_URL or not REDIS_URL:
        missing_service("PostgreSQL and Redis")
    schema = f"scanapp_test_{RUN_ID}"
    admin = sa.create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        missing_service(f"PostgreSQL at {PG_URL} ({exc.__class__.__name__})")
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:
        if not REDIS_CLUSTER:
            missing_service(f"Redis at {REDIS_URL} ({exc.__class__.__name__})")
    try:
        stack = _migrated(Stack("services", PG_URL, schema, REDIS_URL))
        yield stack
        stack.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["embedded", "services"])
def stack(request) -> Stack:
    return request.getfixturevalue(f"{request.param}_stack")


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc):
    """``no_storage`` tests run once, on the embedded stack: a second stack would run the
    same code again (their app touches neither the database nor Redis; the ``app``
    fixture checks that it does not). A parametrize marker, as a test would write it, so
    that the fixture's own two params step aside."""
    if (metafunc.definition.get_closest_marker("no_storage") is not None
            and "stack" in metafunc.fixturenames):
        metafunc.definition.add_marker(
            pytest.mark.parametrize("stack", ["embedded"], indirect=True))


def _wipe_database(app) -> None:
    from scanapp.db import get_engine

    engine = get_engine(app)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    if engine.dialect.name == "postgresql":
        # DELETE (children first) and restarting the sequences used: the same result as
        # TRUNCATE ... RESTART IDENTITY on these small tables at a tenth of the cost (TRUNCATE
        # makes new files for every table: ~0.3-1 s per test, most of a test's teardown).
        try:
            with engine.begin() as conn:
                for table in tables:
                    conn.execute(sa.text(f'DELETE FROM "{table}"'))
                for sequence in conn.execute(sa.text(
                        "SELECT sequencename FROM pg_sequences WHERE schemaname = "
                        "current_schema() AND last_value IS NOT NULL")).scalars():
                    conn.execute(sa.text(f'ALTER SEQUENCE "{sequence}" RESTART'))
            return
        except sa.exc.IntegrityError:
            pass  # a table outside the models references one: TRUNCATE ... CASCADE below
        quoted = ", ".join(f'"{t}"' for t in tables)
        with engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        return
    with engine.begin() as conn:
        for table in tables:
            conn.execute(sa.text(f'DELETE FROM "{table}"'))


def _wipe_redis(app) -> None:
    from scanapp.redis_client import get_redis

    client = get_redis(app)
    if client is None:
        return
    try:
        pattern = app.config["REDIS_PREFIX"] + ":*"
        keys = list(client.scan_iter(match=pattern, count=1000))
        for key in keys:  # one by one: keys of one test may sit in several cluster slots
            client.delete(key)
    except Exception:
        pass  # a test that stopped Redis on purpose leaves nothing to clean


def build_app(stack: Stack, **overrides):
    return create_app({**stack.overrides(), **overrides})


def dispose_app(application) -> None:
    from scanapp.db import get_engine
    from scanapp.redis_client import get_redis

    for hook in application.extensions.get("scanapp.shutdown_hooks", []):
        hook()
    get_engine(application).dispose()
    client = get_redis(application)
    if client is not None:
        client.close()


@pytest.fixture
def app_factory(stack, app):
    """Build extra apps on the test's stack (other settings); disposed at teardown.

    It depends on ``app`` so that it is torn down first: its apps' background threads
    (group commit, flag writer) must stop before ``app`` wipes the tables, or the wipe
    waits on their locks."""
    built = []

    def make(**overrides):
        application = build_app(stack, **overrides)
        built.append(application)
        return application

    yield make
    for application in built:
        for hook in application.extensions.get("scanapp.shutdown_hooks", []):
            hook()
        application.extensions["scanapp.shutdown_hooks"] = []
        _wipe_redis(application)
        dispose_app(application)


@pytest.fixture
def run_worker(app):
    """Run the worker process's relays (scanapp/worker.py) for an app, in this process;
    stopped at teardown, before ``app`` wipes the tables."""
    from scanapp.worker import Worker

    started = []

    def start(application=None):
        worker = Worker(application or app)
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


# Fixtures whose tests need committed data: other threads or processes read it.
COMMITTED_FIXTURES = frozenset({"live_server", "run_worker", "browser"})


def commits_for_real(request) -> bool:
    """True for tests marked ``committed`` or using a fixture that implies it."""
    return (request.node.get_closest_marker("committed") is not None
            or not COMMITTED_FIXTURES.isdisjoint(request.fixturenames))


def _count_statements(application, shared):
    """A function giving the SQL statements the app ran from now on: every engine of the
    test in rollback mode (they share ``shared``), the app's engine when committed."""
    if shared is not None:
        before = shared.statements
        return lambda: shared.statements - before
    from scanapp.db import get_engine

    ran = [0]

    def count(*_args):
        ran[0] += 1

    sa.event.listen(get_engine(application), "before_cursor_execute", count)
    return lambda: ran[0]


@pytest.fixture
def app(stack, request, monkeypatch):
    """The test's app on its stack. By default on one connection rolled back at the end
    (tests/savepoints.py); ``committed`` tests commit for real and are wiped after."""
    shared = None
    if not commits_for_real(request):
        shared = SharedConnection(stack.engine(), stack.database_url)
        monkeypatch.setattr(scanapp_db, "make_engine",
                            engine_factory(shared, scanapp_db.make_engine))
    application = build_app(stack)
    statements = _count_statements(application, shared)
    yield application
    for hook in application.extensions.get("scanapp.shutdown_hooks", []):
        hook()
    application.extensions["scanapp.shutdown_hooks"] = []
    if request.node.get_closest_marker("no_storage") is not None:
        ran = statements()
        assert ran == 0, (f"marked no_storage but ran {ran} SQL statements: remove the "
                          "marker so the test runs on both stacks")
    if shared is None:
        _wipe_database(application)
    _wipe_redis(application)
    dispose_app(application)
    if shared is not None:
        shared.end()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Actor:
    """An API caller holding one key, so tests read like sentences."""

    def __init__(self, client, key: str | None, role: str | None = None,
                 org_id: int | None = None, org_name: str | None = None, key_id=None):
        self.client, self.key, self.role = client, key, role
        self.org_id, self.org_name, self.key_id = org_id, org_name, key_id

    def _headers(self, kwargs) -> dict:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.key is not None:
            headers.setdefault("Authorization", f"Bearer {self.key}")
        return headers

    def get(self, url, **kwargs):
        return self.client.get(url, headers=self._headers(kwargs), **kwargs)

    def post(self, url, **kwargs):
        return self.client.post(url, headers=self._headers(kwargs), **kwargs)

    def patch(self, url, **kwargs):
        return self.client.patch(url, headers=self._headers(kwargs), **kwargs)

    def put(self, url, **kwargs):
        return self.client.put(url, headers=self._headers(kwargs), **kwargs)

    def delete(self, url, **kwargs):
        return self.client.delete(url, headers=self._headers(kwargs), **kwargs)


@pytest.fixture
def make_actor(app, client):
    def make(role: str, org: str | None = None) -> Actor:
        org = org or f"{role.title()} Org"
        with app.app_context(), session_scope(app) as session:
            key, raw = auth_service.issue_key(session, org, Role(role), "test")
            return Actor(client, raw, role, key.org_id, org, key.id)

    return make


@pytest.fixture
def make_authority(app, client, runner):
    """Province authorities: their keys come from the CLI (as an operator makes them), which
    records the province scope."""
    def make(province: str, org: str) -> Actor:
        with app.app_context():
            result = runner.invoke(args=["keys", "create", "--role", "authority", "--org", org,
                                         "--province", province])
        assert result.exit_code == 0, result.output
        return Actor(client, result.output.strip().splitlines()[-1], "authority")

    return make


@pytest.fixture
def authority(make_authority) -> Actor:
    """A province authority (Hưng Yên)."""
    return make_authority("33", "Sở KH&CN Hưng Yên")


@pytest.fixture
def admin(make_actor) -> Actor:
    return make_actor("admin", "Admin Org")


@pytest.fixture
def brand(make_actor) -> Actor:
    return make_actor("brand", "Brand A")


@pytest.fixture
def other_brand(make_actor) -> Actor:
    return make_actor("brand", "Brand B")


@pytest.fixture
def printer(make_actor) -> Actor:
    return make_actor("printer", "Printer P")


@pytest.fixture
def inspector(make_actor) -> Actor:
    return make_actor("inspector", "Inspectorate I")


@pytest.fixture
def anonymous(client) -> Actor:
    return Actor(client, None)


def gtin14(body: str) -> str:
    """Complete a 13-digit body with its GS1 check digit (test data helper)."""
    digits = [int(c) for c in body]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return body + str((10 - total % 10) % 10)


@pytest.fixture
def product(brand) -> dict:
    response = brand.post("/api/v1/products", json={
        "gtin": gtin14("0893456789012"), "name": "Nước mắm thử", "market_regions": ["01", "79"]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


ARTIFACTS = Path(os.environ.get("SCANAPP_TEST_ARTIFACTS", Path(__file__).parent.parent
                                / "test-artifacts"))


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


__all__ = ["Actor", "gtin14", "build_app", "missing_service", "make_engine", "tempfile"]


CHROMIUM = os.environ.get("SCANAPP_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    """A real headless Chromium (Debian's), driven by Playwright.

    Module-scoped: Playwright's sync API keeps an event loop running in the main thread
    while it is open, which would break later tests that call asyncio.run()."""
    if not Path(CHROMIUM).exists():
        if REQUIRE:
            pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        yield instance
        instance.close()


@pytest.fixture
def live_server(app):
    """The test's app served over real HTTP on a free loopback port, in a thread."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
