"""Per-bucket membership filters: which codes may have a summary, so that a code's first
scan needs no summary read (issue 20, issue 14: "one Redis round trip, no new database read
per scan").

Each of the 1024 buckets has a Bloom filter in Redis under the bucket's hash tag (one
Cluster slot with the code's other keys), a plain string handled with GETBIT/SETBIT and
BITFIELD (RedisBloom is not part of plain Redis 7)::

    {prefix}:{b<bucket>}:bloom:<bits>x<hashes>

    bit 0            complete: every code with a committed summary has its bits set
    bits 64-95       the token of the rebuild under way (u32), see ``rebuild``
    bits 128-        the filter, ``hashes`` positions per code (``usable_bits``)

The size is in the key's name, so a changed setting starts a new (incomplete) filter that
the worker fills, never a filter read with the wrong positions. The key has no time to
live: it must outlive the codes' own keys, whose expiry (``SCAN_STATE_TTL_S``) is exactly
when a re-scan has to find the code's bits and read its summary.

Who sets bits: the scan script for every code it creates or loads; the sink before it
commits scan rows (``RedisScanStateStore.note_stored``, the race below); the stale-code
repair; and the rebuild, from ``scan_code_summaries``. Nothing ever clears a code's bits.
The complete flag lives in the same key as the bits, so losing the key (flush, restart,
eviction, a DEL) loses both together: a filter is never complete with bits missing. A
bucket whose filter is not complete answers "miss" as before (summary read): slower, never
wrong; a false positive costs the same read.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time

from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

HEADER_BITS = 128
TOKEN_AT = 64  # u32 rebuild token
BUCKETS = 1024

# Marks a rebuild as under way, unless the filter is complete already (ARGV[2]: the last
# bit, so that a new key is made at its full size at once, see ``last_bit``).
BEGIN_SCRIPT = """
if redis.call('GETBIT', KEYS[1], 0) == 1 then return 0 end
redis.call('BITFIELD', KEYS[1], 'SET', 'u1', ARGV[2], 1, 'SET', 'u32', 64, ARGV[1])
return 1
"""
# Complete only if the token written at the start is still there: a flush or a lost key
# in between took the token with it (and the bits set so far), so the rebuild must start
# again; a repair that cleared it (``poison``) says the same.
FINISH_SCRIPT = """
local token = redis.call('BITFIELD', KEYS[1], 'GET', 'u32', 64)[1]
if token ~= tonumber(ARGV[1]) or redis.call('GETBIT', KEYS[1], 0) == 1 then return 0 end
redis.call('SETBIT', KEYS[1], 0, 1)
return 1
"""


def usable_bits(bits: int) -> int:
    """Positions of a ``bits`` filter: the key holds the header and the positions, and
    for sizes from 4096 bits on, 2 x 128 bits fewer than asked, so that the string plus
    Redis's own header stays inside the allocator's size class of ``bits`` / 8 bytes (2^20
    bits plus a header took 160 KiB per key, not 128, in MEMORY USAGE)."""
    return bits - 2 * HEADER_BITS if bits >= 4096 else bits


def last_bit(bits: int) -> int:
    """The filter's last position. Every command that may create a filter key sets it
    (one position always set: a negligible rise in false positives) so that the key is
    made at its full size at once: a string grown bit by bit by SETBIT is reallocated with
    room to spare (Redis doubles strings under 1 MB as they grow), which made 2^20-bit
    filters take 224 KiB each instead of 128."""
    return HEADER_BITS + usable_bits(bits) - 1


def offsets(serial: str, bits: int, hashes: int) -> list[int]:
    """Bit offsets of a code in its bucket's filter: double hashing (Kirsch and
    Mitzenmacher) from one 64-bit BLAKE2b digest, the same in every process."""
    digest = hashlib.blake2b(serial.encode(), digest_size=8).digest()
    h1 = int.from_bytes(digest[:4], "little")
    h2 = int.from_bytes(digest[4:], "little") | 1
    size = usable_bits(bits)
    return [HEADER_BITS + (h1 + i * h2) % size for i in range(hashes)]


def false_positive_rate(codes_per_bucket: int, bits: int, hashes: int) -> float:
    import math

    return (1 - math.exp(-hashes * codes_per_bucket / bits)) ** hashes


def poison_args(bits: int) -> tuple:
    """BITFIELD arguments that clear the complete flag and any rebuild's token at once (one
    command: a rebuild's finish cannot slip in between)."""
    return ("SET", "u1", last_bit(bits), 1, "SET", "u1", 0, 0, "SET", "u32", TOKEN_AT, 0)


def set_args(positions, bits: int) -> list:
    """BITFIELD arguments setting ``positions`` (and the last bit: ``last_bit``)."""
    args: list = ["SET", "u1", last_bit(bits), 1]
    for offset in positions:
        args += ["SET", "u1", offset, 1]
    return args


def wait_for_writers(engine: Engine, timeout_s: float = 60.0, poll_s: float = 0.05) -> bool:
    """Wait until every transaction that was writing ``scan_code_summaries`` when this was
    called has ended (committed or rolled back). False after ``timeout_s``.

    PostgreSQL: a writer of the table holds a lock on it (RowExclusiveLock, taken by the
    sink's placeholder INSERT, before the sink sets the batch's bits) until its transaction
    ends, and has a transaction id by then. So the transactions to wait for are the
    (backend, transaction id) pairs holding a lock on the table now; each is over once its
    backend shows another transaction id or none. Nothing is locked or blocked by the
    waiting (a ``LOCK TABLE`` would queue every new scan commit behind a slow writer).
    SQLite: taking the write lock once waits for the writer holding it."""
    deadline = time.monotonic() + timeout_s
    if engine.dialect.name != "postgresql":
        with engine.begin() as conn:  # the write lock: the current writer has finished
            conn.execute(text("UPDATE scan_code_summaries SET scans = scans "
                              "WHERE serial IS NULL"))
        return True
    with engine.connect() as conn:
        writers = conn.execute(text(
            "SELECT DISTINCT a.pid::text || ':' || a.backend_xid::text "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'relation' AND l.granted "
            "AND l.relation = CAST('scan_code_summaries' AS regclass) "
            "AND a.backend_xid IS NOT NULL AND a.pid <> pg_backend_pid()")).scalars().all()
        conn.commit()
        while writers:
            # A transaction keeps its first view of pg_stat_activity; drop it each time.
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            running = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE pid::text || ':' || backend_xid::text = ANY(:writers)"),
                {"writers": list(writers)}).scalar_one()
            conn.commit()
            if not running:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(poll_s)
    return True


def rebuild(engine: Engine, store, *, buckets=None, batch: int = 20_000,
            wait_s: float = 60.0) -> dict:
    """Fill the incomplete filters (or ``buckets``) from ``scan_code_summaries`` and mark
    them complete. Returns what it did: buckets asked, completed, summaries read, seconds.

    Why it is right (the race of issue 20): a code counted by Redis just before a flush has
    its bits wiped, and its summary may still be on its way (in a committer's queue, or in
    a transaction). The sink sets a batch's bits *after* inserting its rows and summaries
    (the transaction holds a lock on the summary table from then on) and *before*
    committing them. So for each
    summary committed after the rebuild's read, either its sink set the bits after the
    flush (they are in the new filter: nothing here ever clears bits), or its transaction
    was already writing the summary table before the flush, i.e. before this rebuild
    started, and ``wait_for_writers`` (called after the token is written, hence after the
    flush) waits for it to end, so the read below sees its summary. A second flush (or a
    lost key) during the rebuild removes the token and the finish refuses to mark the
    filter complete; the next pass starts again. A sink that could not reach Redis clears
    the flag and the token (``poison``) once it can, and a later rebuild, starting after
    that, waits for its transaction."""
    started, cpu = time.monotonic(), time.process_time()
    client = store.client
    wanted = store.incomplete_buckets() if buckets is None else sorted(set(buckets))
    result = {"buckets": len(wanted), "completed": 0, "summaries": 0, "seconds": 0.0}
    if not wanted:
        return result
    token = secrets.randbelow(2**32 - 1) + 1
    begin = client.register_script(BEGIN_SCRIPT)
    finish = client.register_script(FINISH_SCRIPT)
    pipe = client.pipeline(transaction=False)
    for bucket in wanted:
        pipe.execute_command("EVAL", begin.script, 1, store.filter_key(bucket), token,
                             last_bit(store.filter_bits))
    begun = [b for b, ok in zip(wanted, pipe.execute(), strict=True) if int(ok)]
    if not begun:
        result["seconds"] = time.monotonic() - started
        return result
    if not wait_for_writers(engine, wait_s):
        log.warning("membership filter rebuild: writers still running after %.0f s; "
                    "the buckets stay incomplete (summaries are read) until the next pass",
                    wait_s)
        result["seconds"] = time.monotonic() - started
        return result
    todo = set(begun)
    bits, hashes = store.filter_bits, store.filter_hashes
    bucket_of = store.bucket_of
    pending: dict[int, list[int]] = {}
    count = 0
    with engine.connect() as conn:
        rows = conn.execution_options(stream_results=True, yield_per=batch).execute(
            text("SELECT serial FROM scan_code_summaries"))
        for (serial,) in rows:
            bucket = bucket_of(serial)
            if bucket not in todo:
                continue
            pending.setdefault(bucket, []).extend(offsets(serial, bits, hashes))
            count += 1
            if count % batch == 0:
                _send_bits(client, store, pending)
        _send_bits(client, store, pending)
        conn.rollback()
    pipe = client.pipeline(transaction=False)
    for bucket in begun:
        pipe.execute_command("EVAL", finish.script, 1, store.filter_key(bucket), token)
    result["completed"] = sum(int(done) for done in pipe.execute())
    result["summaries"] = count
    result["seconds"] = time.monotonic() - started
    result["cpu_seconds"] = time.process_time() - cpu  # this process's, all threads
    return result


def _send_bits(client, store, pending: dict[int, list[int]]) -> None:
    if not pending:
        return
    pipe = client.pipeline(transaction=False)
    for bucket, positions in pending.items():
        pipe.execute_command("BITFIELD", store.filter_key(bucket),
                             *set_args(positions, store.filter_bits))
    pipe.execute()
    pending.clear()


__all__ = ["offsets", "rebuild", "wait_for_writers", "false_positive_rate", "poison_args",
           "set_args", "last_bit", "usable_bits", "HEADER_BITS"]
