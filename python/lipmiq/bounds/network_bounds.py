"""The bounds object of one query: per layer the pre-activation interval, from which stability, the
ReLU relaxations and the big-M constants follow. Computed once by the chosen tightening and handed to
every stage (naive product, pattern and region branch-and-bound, the MIQCQP encoding); engines return a
new, tighter object and never change one that a stage holds."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

Interval = Tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class NetworkBounds:
    """`layers[k] = (lo, hi)` bounds z_{k+1} = W_{k+1} x_k + b_{k+1} over the domain, for every layer
    (the last entry is the output); `method` says which engine produced them."""

    layers: Tuple[Interval, ...]
    method: str

    @classmethod
    def of(cls, layers: Sequence[Interval], method: str) -> "NetworkBounds":
        return cls(tuple((np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)) for lo, hi in layers),
                   method)

    @property
    def hidden(self) -> Tuple[Interval, ...]:
        return self.layers[:-1]

    def stability(self) -> List[np.ndarray]:
        """Per hidden layer: +1 stably active (lo >= 0), -1 stably inactive (hi <= 0), 0 unstable."""
        out = []
        for lo, hi in self.hidden:
            s = np.zeros(lo.shape, dtype=np.int8)
            s[lo >= 0] = 1
            s[hi <= 0] = -1
            out.append(s)
        return out

    def unstable_count(self) -> int:
        return int(sum(np.sum((lo < 0) & (hi > 0)) for lo, hi in self.hidden))

    def mean_big_m(self) -> float:
        """Mean of hi - lo over the unstable hidden neurons (0 when there are none)."""
        widths = [hi[(lo < 0) & (hi > 0)] - lo[(lo < 0) & (hi > 0)] for lo, hi in self.hidden]
        widths = np.concatenate(widths) if widths else np.zeros(0)
        return float(widths.mean()) if widths.size else 0.0

    def with_pattern(self, pattern: Sequence[np.ndarray]) -> List[Interval]:
        """The bounds intersected with the sign constraints of a partial pattern (int8 per hidden layer:
        1 active z >= 0, 0 inactive z <= 0, -1 free): a prior for re-propagation on a subtree."""
        out = []
        for k, (lo, hi) in enumerate(self.layers):
            lo, hi = lo.copy(), hi.copy()
            if k < len(pattern):
                g = np.asarray(pattern[k])
                lo[g == 1] = np.maximum(lo[g == 1], 0.0)
                hi[g == 0] = np.minimum(hi[g == 0], 0.0)
            out.append((lo, hi))
        return out
