"""Reductions of the domain to a box the encodings can carry, with the constraints that keep only
regions with interior in play.

- Global domain, by homogenisation: F(x, t) = the network with every bias scaled by t >= 0 equals
  t f(x / t) for t > 0, so the pattern of F at (x, t) is the pattern of f at x / t; every region of f
  with non-empty interior contains a point y, and (y, 1) / max(1, ||y||_inf) lies on
  S = {t in [0, 1], x in [-1, 1]^n, max(t, ||x||_inf) = 1} with an open neighbourhood on S in the same
  region, so max over S of the closed problem >= L. F is a bias-free network on the box
  [-1, 1]^n x [0, 1] (t is carried by an extra always-active neuron per layer) and the direction
  never moves t. Points of S with t = 0 and strict margins are patterns of f at R x for large R.
  When f has no bias at all, t is dropped and S = {||x||_inf = 1}.
- Bias-free network on a bounded domain containing 0: every region is a cone, and a cone region that
  meets int(X) does so at points of infinity-norm >= delta, with delta half the smallest nonzero
  distance from 0 to a face of the box (the ray from 0 through an interior point leaves X through a
  face not containing 0, and the open segment before it stays in int(X)); so ||x||_inf >= delta is added.
"""
from __future__ import annotations

import math
from typing import List, Optional

import numpy as np

from ..domain import Ball, Box, Domain
from ..network import Network
from .chain import Pattern, Reduction

AT_INFINITY = (1e3, 1e6, 1e9, 1e12)  # scales tried for a point of S with t = 0 (a pattern at infinity)
T_MIN = 1e-9                         # below this t, a point of S is read as a point at infinity


def has_bias(network: Network) -> bool:
    return any(np.any(b) for b in network.biases)


class Homogenise(Reduction):
    """The global domain as the box [-1, 1]^n (x [0, 1] for t) with exclusion ||(x, t)||_inf >= 1."""

    def __init__(self, network: Network):
        self.n = network.input_dim
        self.with_t = has_bias(network)
        if not self.with_t:
            self.network = network
        else:
            weights = []
            for k, layer in enumerate(network.layers):
                Wt = np.hstack([layer.W, layer.b[:, None]])
                if k < len(network.layers) - 1:
                    t_row = np.zeros((1, Wt.shape[1]))
                    t_row[0, -1] = 1.0
                    Wt = np.vstack([Wt, t_row])
                weights.append(Wt)
            self.network = Network(weights, None, name=network.name + "[homogenised]")
        extra = self.network.input_dim - self.n
        self.box = Box(np.concatenate([-np.ones(self.n), np.zeros(extra)]), np.ones(self.network.input_dim))
        self.exclusion = 1.0

    def points(self, x: np.ndarray) -> List[np.ndarray]:
        if not self.with_t:
            return [x]
        xs, t = x[:-1], x[-1]
        if t > T_MIN:
            return [xs / t]
        return [xs * scale for scale in AT_INFINITY]

    def pattern(self, g: Pattern) -> Pattern:
        return [np.asarray(gk)[:-1] for gk in g] if self.with_t else g

    def point_forward(self, x: np.ndarray) -> Optional[np.ndarray]:
        if not self.with_t:
            size = float(np.max(np.abs(x)))
            return None if size == 0.0 else x / size
        s = max(1.0, float(np.max(np.abs(x))))
        return np.concatenate([x / s, [1.0 / s]])

    def pattern_forward(self, g: Pattern) -> Pattern:
        return [np.concatenate([gk, [1]]).astype(np.uint8) for gk in g] if self.with_t else g


class ExcludeOrigin(Reduction):
    """||x||_inf >= delta for a bias-free network on a bounded domain whose interior contains 0."""

    def __init__(self, delta: float, domain: Domain):
        self.delta, self.domain = delta, domain

    @staticmethod
    def radius(network: Network, domain: Domain) -> Optional[float]:
        """delta, or None when the reduction does not apply."""
        if has_bias(network):
            return None
        if isinstance(domain, Box):
            lo, hi = np.asarray(domain.lo), np.asarray(domain.hi)
            if np.any(lo > 0) or np.any(hi < 0):
                return None
            faces = np.concatenate([-lo[lo < 0], hi[hi > 0]])
            return float(faces.min()) / 2.0
        if isinstance(domain, Ball):
            c = np.asarray(domain.center)
            slack = domain.radius - float(np.linalg.norm(c, ord=domain.norm))
            if slack <= 0:
                return None  # 0 outside or on the sphere: no cone trick (the pattern check still guards)
            to_inf = 1.0 if math.isinf(domain.norm) else c.size ** (1.0 / domain.norm)
            return slack / to_inf / 2.0
        return None

    def point_forward(self, x: np.ndarray) -> Optional[np.ndarray]:
        """Along the ray from 0 the pattern is constant: a point inside the exclusion is pushed out."""
        size = float(np.max(np.abs(x)))
        if size == 0.0:
            return None
        if size < self.delta:
            x = x * (self.delta / size)
            if not self.domain.contains(x):
                return None
        return x
