"""The query's own reduction: box coordinates with lo == hi cannot move, so ||x - y||_p only sees the free
ones; they are dropped and their values folded into the first bias (a ball of radius 0 fixes every
coordinate). Its inverse lifts points and directions back to all inputs, where witnesses are stated."""
from __future__ import annotations

from typing import List

import numpy as np

from ..domain import Ball, Box, Domain
from ..network import Network
from .chain import Reduction


class FixInputs(Reduction):
    """`network` and `domain` (resolved) over the free coordinates only."""

    def __init__(self, network: Network, domain: Domain):
        n = network.input_dim
        self.x_fixed, self.free = np.zeros(n), np.arange(n)
        self.network, self.domain = network, domain
        if isinstance(domain, Box):
            lo, hi = np.asarray(domain.lo), np.asarray(domain.hi)
            fixed = lo == hi
            if fixed.any():
                self.free = np.flatnonzero(~fixed)
                self.x_fixed = np.where(fixed, lo, 0.0)
                if self.free.size:
                    W1, b1 = network.weights[0], network.biases[0]
                    self.network = Network([W1[:, self.free]] + network.weights[1:],
                                           [b1 + W1[:, fixed] @ lo[fixed]] + network.biases[1:], name=network.name)
                    self.domain = Box(lo[self.free], hi[self.free])
        elif isinstance(domain, Ball) and domain.radius == 0.0:
            self.free = np.arange(0)
            self.x_fixed = np.asarray(domain.center, dtype=np.float64).copy()

    def lift_point(self, x: np.ndarray) -> np.ndarray:
        out = self.x_fixed.copy()
        out[self.free] = x
        return out

    def lift_direction(self, v: np.ndarray) -> np.ndarray:
        out = np.zeros_like(self.x_fixed)
        out[self.free] = v
        return out

    def points(self, x: np.ndarray) -> List[np.ndarray]:
        return [self.lift_point(x)]

    def direction(self, v: np.ndarray) -> np.ndarray:
        return self.lift_direction(v)
