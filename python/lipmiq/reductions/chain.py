"""Reductions: each transform of the problem is a small object that knows its inverse (as cvxpy's
`Reduction`), and a `Chain` composes them, so that a solver's point in the reduced problem's coordinates
maps back to the problem's, and a problem's point maps forward for warm starts."""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

Pattern = List[np.ndarray]


class Reduction:
    """Identity inverses; a reduction overrides those it changes. `points` may return several candidates
    (a point at infinity has no single preimage) or none."""

    def points(self, x: np.ndarray) -> List[np.ndarray]:
        return [x]

    def direction(self, v: np.ndarray) -> np.ndarray:
        return v

    def pattern(self, g: Pattern) -> Pattern:
        return g

    def value(self, t: float) -> float:
        return t

    def point_forward(self, x: np.ndarray) -> Optional[np.ndarray]:
        return x

    def pattern_forward(self, g: Pattern) -> Pattern:
        return g


class Chain(Reduction):
    """Reductions applied in order; inverses run in reverse order."""

    def __init__(self, reductions: Sequence[Reduction] = ()):
        self.reductions = list(reductions)

    def then(self, reduction: Reduction) -> "Chain":
        return Chain(self.reductions + [reduction])

    def points(self, x: np.ndarray) -> List[np.ndarray]:
        out = [x]
        for r in reversed(self.reductions):
            out = [y for point in out for y in r.points(point)]
        return out

    def direction(self, v: np.ndarray) -> np.ndarray:
        for r in reversed(self.reductions):
            v = r.direction(v)
        return v

    def pattern(self, g: Pattern) -> Pattern:
        for r in reversed(self.reductions):
            g = r.pattern(g)
        return g

    def value(self, t: float) -> float:
        for r in reversed(self.reductions):
            t = r.value(t)
        return t

    def point_forward(self, x: np.ndarray) -> Optional[np.ndarray]:
        for r in self.reductions:
            x = r.point_forward(x)
            if x is None:
                return None
        return x

    def pattern_forward(self, g: Pattern) -> Pattern:
        for r in self.reductions:
            g = r.pattern_forward(g)
        return g
