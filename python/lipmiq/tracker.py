"""Anytime bookkeeping: the best certified bounds so far, their history, and what produced them.

Pipeline stages run inside `with tracker.stage(name):`, which times them and attributes every bound
improved inside to that stage; counters (`count`) and facts (`note`) collect the work done. All of it
becomes `Result.stats` (docs/conventions.md lists the stage names and fields).
"""
from __future__ import annotations

import contextlib
import math
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

from .result import Witness, is_exact

COUNTERS = ("regions", "region_lps", "pruned_subtrees", "scip_nodes")


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
        self.stage_times: Dict[str, float] = {}
        self.counts: Dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.facts: Dict[str, Any] = {"unstable_neurons": None}
        self.by: Dict[str, Optional[str]] = {"lower": None, "upper": None, "closed": None}
        self._stage: Optional[str] = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.perf_counter())

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage `name` (added up over repeats) and attribute the bounds it improves
        to it; in a nested stage the innermost one gets the credit."""
        outer, self._stage = self._stage, name
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stage_times[name] = self.stage_times.get(name, 0.0) + (time.perf_counter() - start)
            self._stage = outer

    def count(self, **amounts: int) -> None:
        """Add to the work counters (COUNTERS), e.g. count(scip_nodes=m.getNNodes())."""
        for name, amount in amounts.items():
            self.counts[name] += int(amount)

    def note(self, **facts: Any) -> None:
        """Record facts about the query found on the way, e.g. note(unstable_neurons=12)."""
        self.facts.update(facts)

    def _record(self, bound: str) -> None:
        self.by[bound] = self._stage
        if self.by["closed"] is None and self.exact:
            self.by["closed"] = self._stage
        self.history.append([round(self.elapsed(), 6), self.lower, self.upper])
        if self.on_update is not None:
            self.on_update(self)

    def offer_lower(self, witness: Optional[Witness]) -> bool:
        """Take a re-checked witness if it beats the current lower bound."""
        if witness is None or not witness.value > self.lower:
            return False
        self.lower = witness.value
        self.witness = witness
        self._record("lower")
        return True

    def offer_upper(self, value: float) -> bool:
        if not value < self.upper:
            return False
        self.upper = max(value, 0.0)
        self._record("upper")
        return True

    def drop_lower(self) -> None:
        """Forget the lower bound and its witness (a witness that failed its final re-check)."""
        self.lower, self.witness = 0.0, None
        self.by["closed"] = None
        self._record("lower")

    def replace_upper(self, value: float) -> None:
        """Replace an upper bound found wrong (below a certified lower bound) by a valid, larger one."""
        self.upper = math.inf
        self.by["closed"] = None
        self.offer_upper(value)

    def stats(self) -> Dict[str, Any]:
        """`Result.stats`: time per stage, the stage that last improved each bound and the one that
        closed the gap (None when none did), the work counters and the facts noted."""
        return {"stages": {name: round(t, 6) for name, t in self.stage_times.items()},
                "lower_by": self.by["lower"], "upper_by": self.by["upper"], "closed_by": self.by["closed"],
                **self.counts, **self.facts}

    @property
    def exact(self) -> bool:
        return is_exact(self.lower, self.upper)
