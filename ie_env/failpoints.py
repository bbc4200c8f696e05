"""Crash injection for the resume tests: ``IE_FAILPOINT=NAME:N`` kills the process with SIGKILL the N-th time
(default 1) the code passes ``failpoint("NAME")``. Without the variable a failpoint is one dictionary look-up.
With ``IE_FAILPOINT_ONCE=FILE`` as well, only the first process to get there dies (it creates FILE first), so a
retried worker (Ray) passes the point.

Points: ``step`` (start of an env step), ``download`` (one URL, other downloads in flight), ``record`` (inside a
snapshot transaction), ``train`` (after a learner step), ``evaluate`` (trained, not yet evaluated) and
``atomic-write`` (a file written, not yet renamed into place).
"""
from __future__ import annotations

import os
import signal
import threading

_hits: dict[str, int] = {}
_lock = threading.Lock()


def failpoint(name: str) -> None:
    spec = os.environ.get("IE_FAILPOINT")
    if not spec:
        return
    want, _, n = spec.partition(":")
    if want != name:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        hit = _hits[name] == int(n or 1)
    if hit and _first(os.environ.get("IE_FAILPOINT_ONCE", "")):
        os.kill(os.getpid(), signal.SIGKILL)


def _first(marker: str) -> bool:
    """Whether this process is the first to claim ``marker`` (a file created exclusively); always with none."""
    if not marker:
        return True
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True
