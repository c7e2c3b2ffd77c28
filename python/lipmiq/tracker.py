"""Anytime bookkeeping: the best certified bounds so far and their history."""
from __future__ import annotations

import math
import time
from typing import Callable, List, Optional

from .result import Witness, is_exact


class Tracker:
    """Collects bounds from every stage of a method; only ever tightens them."""

    def __init__(self, time_limit: float, on_update: Optional[Callable[["Tracker"], None]] = None):
        self.start = time.perf_counter()
        self.deadline = self.start + time_limit
        self.lower = 0.0
        self.upper = math.inf
        self.witness: Optional[Witness] = None
        self.history: List[List[float]] = []
        self.on_update = on_update

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.perf_counter())

    def _record(self) -> None:
        self.history.append([round(self.elapsed(), 6), self.lower, self.upper])
        if self.on_update is not None:
            self.on_update(self)

    def offer_lower(self, witness: Optional[Witness]) -> bool:
        """Take a re-checked witness if it beats the current lower bound."""
        if witness is None or not witness.value > self.lower:
            return False
        self.lower = witness.value
        self.witness = witness
        self._record()
        return True

    def offer_upper(self, value: float) -> bool:
        if not value < self.upper:
            return False
        self.upper = max(value, 0.0)
        self._record()
        return True

    @property
    def exact(self) -> bool:
        return is_exact(self.lower, self.upper)
