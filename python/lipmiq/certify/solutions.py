"""From a solver's point in the reduced problem's coordinates to a certified witness of the problem."""
from __future__ import annotations

import math
from typing import List, Optional

import numpy as np

from ..problem import Problem
from ..reductions.chain import Chain
from ..result import Witness
from .regions import interior_point
from .witness import certify


def certify_solution(problem: Problem, chain: Chain, x: np.ndarray, v: Optional[np.ndarray],
                     g: List[np.ndarray], deadline: float = math.inf) -> Optional[Witness]:
    """The best certified witness for a solution (x, v, g): at x mapped back, or, when that point sits on a
    region boundary (solver tolerances) or in another region, at the deepest point of g's region."""
    full = chain.pattern(g)
    v = None if v is None else chain.direction(v)
    best = None
    for point in chain.points(x):
        best = certify(problem, point, v)
        if best is not None:
            break
    if best is None or any(not np.array_equal(a, b) for a, b in zip(best.pattern, full)):
        inner, _ = interior_point(problem, full, deadline)
        other = None if inner is None else certify(problem, inner, v)
        if other is not None and (best is None or other.value > best.value):
            best = other
    return best
