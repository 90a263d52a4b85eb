"""One base for background threads: start, wake, stop, backoff, and a join budget.

Two kinds run on it:

- queue consumers in the web process (the scan group committer, the flag writer): request
  threads hand them work; they start on their first item (after gunicorn forks, never in a
  ``flask db upgrade``) and drain what is queued when stopped;
- polling workers in the worker process (``flask --app scanapp worker``: webhook relay,
  EPCIS pusher): a pass every ``interval`` seconds, sooner when woken, and on failure a
  backoff that doubles up to ``max_backoff`` so a database outage is not hammered.

Stopping shares one deadline between all threads of a process (``stop_all``): gunicorn gives
a worker ``graceful_timeout`` (30 s) to exit before it kills it, so the joins must add up to
less than that, not to 10 s per thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

log = logging.getLogger(__name__)

# gunicorn's graceful_timeout is 30 s (gunicorn.conf.py); keep a margin for the process's
# own exit after the threads are joined.
JOIN_BUDGET_S = 20.0


class BackgroundThread:
    """A daemon thread with an idempotent start and a stop that joins within a deadline."""

    name = "scanapp-background"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> bool:
        """Start the thread unless it runs or was stopped; False once stopped (also while a
        stopped thread is still draining: work handed over then would miss the drain)."""
        if self._stopping.is_set():
            return False
        if self.running:
            return True
        with self._lock:
            if self._stopping.is_set():
                return False
            if not self.running:
                self._thread = threading.Thread(target=self._main, name=self.name,
                                                daemon=True)
                self._thread.start()
        return True

    def _main(self) -> None:
        try:
            self.run()
        except Exception:  # noqa: BLE001 - logged; the thread's owner sees it stopped
            log.exception("%s stopped on an unexpected error", self.name)

    def run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def signal_stop(self) -> None:
        """Make ``run`` return soon (a subclass adds its own wake-up: a queue marker)."""

    def stop(self, deadline: float | None = None) -> None:
        """Ask the thread to finish and join it until ``deadline`` (``time.monotonic``)."""
        with self._lock:
            self._stopping.set()
            thread = self._thread
        self.signal_stop()
        if thread is not None and thread.is_alive():
            deadline = deadline if deadline is not None else time.monotonic() + JOIN_BUDGET_S
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("%s did not stop within the shutdown budget", self.name)


class PollingWorker(BackgroundThread):
    """Calls ``run_once`` every ``interval()`` seconds, at once when woken or when the last
    pass reported more work, and backs off (doubling, up to ``max_backoff()``) after errors.
    Subclasses read both from the app's settings each time, so a changed setting applies
    from the next pass."""

    def __init__(self) -> None:
        super().__init__()
        self._wake = threading.Event()
        self.failures = 0

    def interval(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def max_backoff(self) -> float:
        return 60.0

    def run_once(self) -> bool:  # pragma: no cover - abstract
        """One pass; True when there may be more to do right away."""
        raise NotImplementedError

    def wake(self) -> None:
        self._wake.set()

    def signal_stop(self) -> None:
        self._wake.set()

    def delay(self) -> float:
        interval = self.interval()
        if not self.failures:
            return interval
        return min(max(self.max_backoff(), interval), interval * 2 ** self.failures)

    def run(self) -> None:
        while not self.stopping:
            more = False
            try:
                more = self.run_once()
                self.failures = 0
            except Exception:  # noqa: BLE001 - the database may be briefly away: keep going
                self.failures += 1
                log.exception("%s pass failed (%d in a row); next try in %.1f s",
                              self.name, self.failures, self.delay())
            if more and not self.stopping:
                continue
            self._wake.wait(self.delay())
            self._wake.clear()


def stop_all(threads: Iterable[BackgroundThread], budget: float = JOIN_BUDGET_S) -> None:
    """Stop every thread, in order, within one shared budget."""
    deadline = time.monotonic() + budget
    for thread in threads:
        thread.stop(deadline)
