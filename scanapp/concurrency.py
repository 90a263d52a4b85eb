"""Long CPU-bound responses let the other requests of their worker run.

Production serves with gunicorn's gevent workers (docs/PERFORMANCE.md): greenlets switch
only when one of them waits on I/O. A download of a million stamp URIs to a fast client, or
a PDF sheet of labels, may never wait, and every scan of that worker would queue behind it.
Loops that produce such responses call ``cooperate()`` between chunks: under gevent's
monkey-patching ``time.sleep(0)`` yields to the other greenlets; under threads it lets the
GIL go; either way it costs about a microsecond.
"""

from __future__ import annotations

import time


def cooperate() -> None:
    time.sleep(0)


def _gevent_threadpool():
    """gevent's pool of real threads when gunicorn's gevent worker patched the standard
    library, else None (gthread workers, the CLI, tests)."""
    try:
        from gevent import get_hub, monkey
    except ImportError:
        return None
    if not monkey.is_module_patched("threading"):
        return None
    return get_hub().threadpool


def offload(function, *args):
    """``function(*args)``, run so that it cannot stall the other requests of the worker.

    Under gevent a long stretch of pure Python (summing every worker's metric files for a
    scrape) would hold the worker's only running greenlet; in one of gevent's real threads
    the interpreter switches away from it every few milliseconds, so scans keep being
    answered. Under threads it simply runs: the GIL already switches.
    """
    pool = _gevent_threadpool()
    if pool is None:
        return function(*args)
    return pool.apply(function, args)
