"""The one place that constructs HiGHS models: silent from birth, whatever the HiGHS version.

HiGHS 1.16 prints a two-line banner on the process's stdout from C++ when the first model of a
process is constructed, before any option can be set (SOLVER-NOTES.md). A library must not write to
its caller's stdout (it broke `--json` pipelines), so every construction runs with file descriptors
1 and 2 pointed at /dev/null, and the model's own output is switched off before it is returned.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
from typing import Iterator

import highspy

_FDS_LOCK = threading.Lock()  # one redirection at a time: threads must restore the descriptors in order


def _flush_c_streams() -> None:
    """Flush C stdio buffers, so nothing printed while redirected is written after the restore."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library handle on this platform
        pass


@contextlib.contextmanager
def _silenced_fds() -> Iterator[None]:
    """Point file descriptors 1 and 2 at /dev/null for the duration (C-level output included)."""
    with _FDS_LOCK:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            saved = (os.dup(1), os.dup(2))
        except OSError:  # a descriptor is closed: there is nothing to protect
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            yield
        finally:
            _flush_c_streams()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in (*saved, devnull):
                os.close(fd)


def new_highs() -> highspy.Highs:
    """An empty HiGHS model with all output off (the only `highspy.Highs()` call in lipmiq)."""
    with _silenced_fds():
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
    return h
