"""The background base: polling with backoff, wake-ups, and stopping within one budget."""

from __future__ import annotations

import threading
import time

from scanapp.background import BackgroundThread, PollingWorker, stop_all


class Flaky(PollingWorker):
    name = "test-flaky"

    def __init__(self, fail: int):
        super().__init__()
        self.fail, self.calls = fail, 0
        self.done = threading.Event()

    def interval(self) -> float:
        return 0.01

    def max_backoff(self) -> float:
        return 0.04

    def run_once(self) -> bool:
        self.calls += 1
        if self.calls <= self.fail:
            raise RuntimeError("database away")
        self.done.set()
        return False


def test_failures_back_off_doubling_up_to_the_cap_then_recover():
    worker = Flaky(fail=3)
    delays = []
    for failures in range(6):
        worker.failures = failures
        delays.append(worker.delay())
    assert delays == [0.01, 0.02, 0.04, 0.04, 0.04, 0.04]
    worker.failures = 0
    worker.start()
    assert worker.done.wait(5)  # kept going through the errors
    assert worker.failures == 0 and worker.calls == 4
    worker.stop()
    assert not worker.running


def test_a_wake_runs_a_pass_before_the_interval_is_over():
    class Slow(Flaky):
        def interval(self) -> float:
            return 60.0

    worker = Slow(fail=0)
    worker.start()
    assert worker.done.wait(5)
    worker.done.clear()
    worker.wake()
    assert worker.done.wait(5)  # not 60 s later
    worker.stop()


class Stuck(BackgroundThread):
    name = "test-stuck"

    def run(self) -> None:
        time.sleep(3)  # ignores the stop request, like a thread blocked on I/O


def test_stopping_shares_one_budget_and_a_stopped_thread_stays_stopped():
    threads = [Stuck(), Stuck(), Stuck()]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    stop_all(threads, budget=0.3)
    assert time.monotonic() - started < 1.0  # not 3 x the budget, not 3 s
    assert not threads[0].start()  # stopped: it does not come back
