"""Live progress of a long solve on stderr (lower, upper, gap, elapsed), and the bound trace on disk.

The display is a `Tracker` callback (`lipschitz(..., on_update=display)`): it rewrites one line in
place, at most every `interval` seconds, and only when the stream is a terminal.
"""
from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from typing import IO, Any, List, Optional, Tuple

from ..errors import InputError
from ..jsonout import dumps


def _fmt(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.8g}"


def status_line(lower: float, upper: float, elapsed: float) -> str:
    """One line: the bounds, their gap (absolute and relative) and the elapsed time."""
    if math.isfinite(upper):
        gap = upper - lower
        rel = gap / max(abs(upper), 1e-300) if upper else 0.0
        gap_text = f"{gap:.3g} ({100.0 * rel:.2f}%)"
    else:
        gap_text = "inf"
    return f"lower {_fmt(lower)}  upper {_fmt(upper)}  gap {gap_text}  {elapsed:7.1f} s"


class Progress:
    """A Tracker callback that redraws the status line in place on a terminal stream.

    Used as a context manager it also redraws every `interval` seconds from a daemon thread, so the
    elapsed time keeps moving between bound improvements (whenever the solver lets Python run).
    """

    def __init__(self, stream: Optional[IO[str]] = None, enabled: Optional[bool] = None, interval: float = 0.2):
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.interval = interval
        self._last = -math.inf
        self._width = 0
        self._tracker: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __call__(self, tracker: Any) -> None:
        self._tracker = tracker
        if time.perf_counter() - self._last >= self.interval:
            self.refresh()

    def refresh(self) -> None:
        """Redraw from the last tracker seen (nothing before the first update)."""
        tracker = self._tracker
        if tracker is not None:
            self._last = time.perf_counter()
            self.draw(status_line(tracker.lower, tracker.upper, tracker.elapsed()))

    def draw(self, text: str) -> None:
        """Overwrite the current line with `text` (padded over a longer previous line)."""
        if not self.enabled:
            return
        with self._lock:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
            self._width = len(text)

    def close(self) -> None:
        """Stop the ticker and clear the line so the final report starts clean."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if self.enabled and self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
                self._width = 0

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()

    def __enter__(self) -> "Progress":
        if self.enabled:
            self._stop.clear()
            self._thread = threading.Thread(target=self._tick, name="lipmiq-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def write_history(path: str, history: List[List[float]]) -> None:
    """The bound trace `[[t, lower, upper], ...]` as strict JSON (an unbounded upper as null)."""
    try:
        with open(path, "w") as fh:
            fh.write(dumps(history) + "\n")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the history ({exc.strerror or exc})") from None


def read_history(path: str) -> List[List[float]]:
    """The bound trace from a result JSON (its `history` field) or a history file of `--history`."""
    return read_trace(path)[0]


def read_trace(path: str) -> Tuple[List[List[float]], dict]:
    """The bound trace and the whole document it came from ({} for a `--history` file)."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a JSON file ({exc})") from None
    rows = data.get("history") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise InputError(f"{path}: expected a result JSON with a 'history' field or a list [[t, lower, upper], ...]")
    out = []
    for i, row in enumerate(rows):
        try:
            t, lo, up = (math.inf if j == 2 and v is None else float(v) for j, v in enumerate(row))
        except (TypeError, ValueError):
            raise InputError(f"{path}: history entry {i} is not [t, lower, upper]: {row!r}") from None
        out.append([t, lo, up])
    return out, data if isinstance(data, dict) else {}
