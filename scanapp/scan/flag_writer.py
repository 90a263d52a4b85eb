"""Fraud flags written after the answer, by one background thread per process.

About one scan in twenty raises or escalates a flag: a transaction with the flag, its case
event and the ``FlagRaised`` publication (EPCIS and webhook outbox rows). The verdict does
not depend on any of it, so in production the phone gets its answer as soon as its scan row
is committed and the flag is written a moment later by this thread. The thread takes
everything queued within ``LINGER_S`` of the first flag (up to ``MAX_BATCH``) and writes it
in transactions of ``CHUNK`` flags, yielding between them (``record``:
``fraud.flags.on_scans_recorded``, handed over by scanapp/bootstrap.py, so the scan package
does not import fraud's database side), with the same outcome as one call per scan: the CPU
it takes from the request threads shrinks as the load grows.

What a crash can cost: flags queued but not yet written when the process dies (at most
``LINGER_S`` plus one batch's worth; ``close`` drains the queue on a clean shutdown). The
scan row is already stored with its verdict, reasons and risk, so nothing the phone was
told is lost, and the code's next scan raises the flag again (its risk only grows). The
embedded default and the tests (``SCAN_FLAGS_IN_BACKGROUND`` off unless ``PRODUCTION``)
write in the request, so a flag is visible the moment the scan is answered.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Sequence

from ..background import BackgroundThread
from ..concurrency import cooperate

log = logging.getLogger(__name__)

# Flags taken off the queue at once: what piled up while the previous batch was being
# written, so a busy process pays few commits for many flags.
MAX_BATCH = 200
# Flags written per transaction, with a yield between transactions: under gevent workers
# this thread is a greenlet that nothing preempts, and writing 200 flags in one go was a
# stretch of Python long enough to stall every scan of its worker (issue 20, item 2). A
# chunk of 20 keeps each stretch in the low milliseconds and still shares a commit.
CHUNK = 20
# How long the first flag of a batch waits for company. Flags come a few per second per
# process, so without waiting every batch held one flag and paid a whole transaction (the
# benchmark's profile: ~16 % of a worker in this thread). An inspector sees the flag a
# fraction of a second later; the scan's answer does not wait for it at all.
LINGER_S = 0.25


class FlagWriter(BackgroundThread):
    name = "scan-flag-writer"

    def __init__(self, record: Callable[[Sequence[tuple]], None]):
        super().__init__()
        self._record = record
        self._queue: queue.SimpleQueue = queue.SimpleQueue()

    def submit(self, *args) -> None:
        """Queue one flagged scan's arguments; written in the request once stopped."""
        if not self.start():
            self._record([args])
            return
        self._queue.put(args)

    def signal_stop(self) -> None:
        self._queue.put(None)  # after everything already queued: the queue drains

    def run(self) -> None:
        while True:
            batch, stop = self._take()
            for start in range(0, len(batch), CHUNK):
                try:
                    # on_scans_recorded logs its own failures; this guards the thread itself.
                    self._record(batch[start:start + CHUNK])
                except Exception:  # noqa: BLE001
                    log.exception("flag writer: unexpected error")
                cooperate()  # let the scans of this worker run between two transactions
            if stop:
                return

    def _take(self) -> tuple[list[tuple], bool]:
        """Wait for work, then take everything queued (up to ``MAX_BATCH``); True once the
        close marker is reached (everything queued before it is in the batch)."""
        batch: list[tuple] = []
        args = self._queue.get()
        deadline = time.monotonic() + LINGER_S
        while args is not None:
            batch.append(args)
            if len(batch) >= MAX_BATCH:
                return batch, False
            try:
                args = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                return batch, False
        return batch, True

    def close(self) -> None:
        self.stop()
