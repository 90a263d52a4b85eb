"""A local EPCIS capture endpoint for the push tests (http.server, ports 5400-5499)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PORTS = range(5400, 5500)


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 5400-5499")


class CaptureServer:
    """Accepts POST /capture like an EPCIS repository (202), recording every document.

    ``fail_next`` answers that many requests with 503 first; ``delay`` slows every answer.
    """

    def __init__(self, port: int, fail_next: int = 0, delay: float = 0.0):
        self.port, self.fail_next, self.delay = port, fail_next, delay
        self.received: list[dict] = []
        self.requests: list[tuple[str, Any]] = []  # headers: case-insensitive
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def event_ids(self) -> list[str]:
        with self._lock:
            return [e["eventID"] for doc in self.received for e in doc["epcisBody"]["eventList"]]

    def start(self) -> CaptureServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(outer.delay)
                with outer._lock:
                    outer.requests.append((self.path, self.headers))
                    failing = outer.fail_next > 0
                    if failing:
                        outer.fail_next -= 1
                    elif self.path == "/capture":
                        outer.received.append(json.loads(body))
                status = 503 if failing else (202 if self.path == "/capture" else 404)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                if status == 202:
                    self.send_header("Location", "/capture/1")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None


def eventually(check, timeout: float = 30.0, every: float = 0.05):
    """Wait until ``check()`` is truthy; return its value or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(every)
