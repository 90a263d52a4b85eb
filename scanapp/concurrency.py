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
