"""A fixed-rate (open-loop) HTTP load generator for latency at a given offered load.

wrk measures saturation: each connection sends its next request when the previous one
answers, so a slow server is simply sent less (closed loop). Latency at a given offered
rate needs the opposite: requests leave on a fixed schedule whatever the server does, and
each latency is measured from the moment the request *should* have been sent, so queueing
caused by a stall is counted rather than hidden ("coordinated omission"). wrk2 does this
but is not packaged in Debian, hence this small generator.

It is asyncio with raw ``asyncio.Protocol`` sockets and keep-alive connections: no HTTP
library on the hot path, so one core of Python sends a few thousand requests per second.
The result says how late the generator itself was (``max_send_lag_ms``) and how much CPU
it used, so a run where the generator was the bottleneck can be recognised and discarded.

    python -m loadtests.rategen --url http://127.0.0.1:5500/healthz --rate 200 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import resource
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit


@dataclass
class RateResult:
    offered_rps: float
    achieved_rps: float
    sent: int
    completed: int
    ok: int
    non_2xx: int
    socket_errors: int
    timeouts: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    max_send_lag_ms: float
    generator_cpu_s: float
    duration_s: float
    status_counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return None
    rank = max(1, int(round(pct / 100.0 * len(sorted_values) + 0.4999)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def build_request(method: str, host: str, path: str, body: bytes | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive",
             "User-Agent: scanapp-rategen"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, gen: _Generator):
        self.gen = gen
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.intended: float | None = None  # schedule time of the request in flight
        self.must_close = False

    def connection_made(self, transport):
        self.transport = transport

    def send(self, request: bytes, intended: float) -> None:
        self.intended = intended
        self.buf.clear()
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(self.buf[:head_end]).lower()
        length = 0
        pos = head.find(b"\r\ncontent-length:")
        if pos >= 0:
            end = head.find(b"\r\n", pos + 2)
            length = int(head[pos + 17:end if end >= 0 else None])
        if len(self.buf) < head_end + 4 + length:
            return
        status = int(self.buf[9:12])
        self.must_close = b"\r\nconnection: close" in head
        intended, self.intended = self.intended, None
        self.buf.clear()
        if intended is not None:
            self.gen.finished(self, status, intended)

    def connection_lost(self, exc):
        self.transport = None
        if self.intended is not None:
            intended, self.intended = self.intended, None
            self.gen.failed(intended)
        self.gen.lost(self)


class _Generator:
    def __init__(self, url: str, requests: Sequence[bytes], rate: float, duration: float,
                 connections: int, timeout: float):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.requests, self.rate, self.duration = requests, rate, duration
        self.n_connections, self.timeout = connections, timeout
        self.idle: collections.deque[_Connection] = collections.deque()
        self.backlog: collections.deque[tuple[bytes, float]] = collections.deque()
        self.latencies: list[float] = []
        self.status_counts: collections.Counter[int] = collections.Counter()
        self.socket_errors = 0
        self.sent = 0
        self.in_flight = 0
        self.max_lag = 0.0
        self.done = asyncio.Event()
        self.closing = False
        self.loop = asyncio.get_running_loop()

    async def _open(self) -> None:
        try:
            _t, conn = await self.loop.create_connection(
                lambda: _Connection(self), self.host, self.port)
        except OSError:
            self.socket_errors += 1
            await asyncio.sleep(0.05)
            return
        self._give(conn)

    def _give(self, conn: _Connection) -> None:
        """A connection is free: serve the backlog first, else park it."""
        if self.backlog:
            request, intended = self.backlog.popleft()
            conn.send(request, intended)
        else:
            self.idle.append(conn)

    def _dispatch(self, request: bytes, intended: float) -> None:
        self.sent += 1
        self.in_flight += 1
        while self.idle:
            conn = self.idle.popleft()
            if conn.transport is not None:
                conn.send(request, intended)
                return
        self.backlog.append((request, intended))

    def finished(self, conn: _Connection, status: int, intended: float) -> None:
        now = time.perf_counter()
        self.in_flight -= 1
        self.latencies.append(now - intended)
        self.status_counts[status] += 1
        if conn.must_close:  # e.g. gunicorn's sync worker: no keep-alive
            conn.transport.close()
        else:
            self._give(conn)
        self._check_done()

    def failed(self, _intended: float) -> None:
        self.in_flight -= 1
        self.socket_errors += 1
        self._check_done()

    def lost(self, conn: _Connection) -> None:
        if not self.closing:
            self.loop.create_task(self._open())

    def _check_done(self) -> None:
        if self.sent >= len(self.requests) and self.in_flight == 0:
            self.done.set()

    async def run(self) -> RateResult:
        await asyncio.gather(*(self._open() for _ in range(self.n_connections)))
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        total = min(len(self.requests), int(self.rate * self.duration))
        interval = 1.0 / self.rate
        i = 0
        while i < total:
            now = time.perf_counter()
            due = min(total, int((now - start) / interval) + 1)
            while i < due:
                intended = start + i * interval
                self.max_lag = max(self.max_lag, now - intended)
                self._dispatch(self.requests[i], intended)
                i += 1
            next_at = start + i * interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        self.requests = self.requests[:total]
        self._check_done()
        timeouts = 0
        try:
            await asyncio.wait_for(self.done.wait(), self.timeout)
        except TimeoutError:
            timeouts = self.in_flight
        elapsed = time.perf_counter() - start
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        self.closing = True
        for conn in list(self.idle):
            if conn.transport is not None:
                conn.transport.close()
        lat = sorted(x * 1000.0 for x in self.latencies)
        ok = sum(n for s, n in self.status_counts.items() if 200 <= s < 300)
        completed = sum(self.status_counts.values())
        return RateResult(
            offered_rps=self.rate, achieved_rps=completed / elapsed if elapsed else 0.0,
            sent=self.sent, completed=completed, ok=ok, non_2xx=completed - ok,
            socket_errors=self.socket_errors, timeouts=timeouts,
            p50_ms=percentile(lat, 50), p95_ms=percentile(lat, 95),
            p99_ms=percentile(lat, 99), max_ms=lat[-1] if lat else None,
            max_send_lag_ms=self.max_lag * 1000.0,
            generator_cpu_s=(cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
            duration_s=elapsed,
            status_counts={str(s): n for s, n in sorted(self.status_counts.items())})


def run_fixed_rate(url: str, rate: float, duration: float, bodies: Sequence[bytes] | None = None,
                   method: str | None = None, connections: int = 64,
                   timeout: float = 10.0) -> RateResult:
    """Send ``rate`` requests per second for ``duration`` seconds; one body per request.

    Without bodies every request is a bodiless GET (or ``method``) of ``url``.
    """
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc
    total = int(rate * duration)
    if bodies is None:
        one = build_request(method or "GET", host, path, None)
        requests: Sequence[bytes] = [one] * total
    else:
        if len(bodies) < total:
            raise ValueError(f"{total} requests need {total} bodies, got {len(bodies)}")
        requests = [build_request(method or "POST", host, path, b) for b in bodies[:total]]

    async def main() -> RateResult:
        return await _Generator(url, requests, rate, duration, connections, timeout).run()

    return asyncio.run(main())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--bodies", help="file with one request body per line (POST)")
    args = parser.parse_args(argv)
    bodies = None
    if args.bodies:
        with open(args.bodies, "rb") as fh:
            bodies = [line.rstrip(b"\n") for line in fh if line.strip()]
    result = run_fixed_rate(args.url, args.rate, args.duration, bodies,
                            connections=args.connections)
    print(json.dumps(result.as_dict(), indent=2))


if __name__ == "__main__":
    main()
