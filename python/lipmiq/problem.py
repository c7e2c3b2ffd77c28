"""A Lipschitz query normalised for the solvers: scalar outputs folded in, fixed coordinates removed."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .domain import Ball, Box, Domain, Global
from .errors import InputError
from .network import Network
from .norms import parse_norm


@dataclass
class Problem:
    """What the methods solve: `network` on `domain` over the free input coordinates.

    `full` is the (output-selected) network on all inputs: witnesses are stated and re-checked on it.
    Fixed box coordinates (lo == hi) cannot move, so ||x - y||_p only sees the free ones; they are
    folded into the first bias. For a scalar output the output norm is irrelevant and q is set to inf.
    """

    network: Network
    domain: Domain
    p: float
    q: float
    full: Network
    full_domain: Domain
    free: np.ndarray
    x_fixed: np.ndarray
    q_requested: float
    output: object

    def lift_x(self, x: np.ndarray) -> np.ndarray:
        out = self.x_fixed.copy()
        out[self.free] = x
        return out

    def lift_v(self, v: np.ndarray) -> np.ndarray:
        out = np.zeros_like(self.x_fixed)
        out[self.free] = v
        return out

    @property
    def trivial(self) -> bool:
        """True when the domain is a single point, where L = 0."""
        return self.free.size == 0


def make_problem(network: Network, domain: Optional[Domain], p: object, q: object, output: object = None) -> Problem:
    """Validate a query and normalise it into a Problem."""
    p = parse_norm(p, "input norm p")
    q_requested = parse_norm(q, "output norm q")
    if domain is None:
        domain = Global()
    if not isinstance(domain, Domain):
        raise InputError(f"domain must be a Box, Ball or Global, got {type(domain).__name__}")
    full_domain = domain.resolve(network.input_dim)
    full = network.select_output(output)
    n = network.input_dim
    x_fixed = np.zeros(n)
    free = np.arange(n)
    reduced_net, reduced_domain = full, full_domain
    if isinstance(full_domain, Box):
        lo, hi = np.asarray(full_domain.lo), np.asarray(full_domain.hi)
        fixed = lo == hi
        if fixed.any():
            free = np.flatnonzero(~fixed)
            x_fixed = np.where(fixed, lo, 0.0)
            if free.size:
                W1, b1 = full.weights[0], full.biases[0]
                weights = [W1[:, free]] + full.weights[1:]
                biases = [b1 + W1[:, fixed] @ lo[fixed]] + full.biases[1:]
                reduced_net = Network(weights, biases, name=full.name)
                reduced_domain = Box(lo[free], hi[free])
    elif isinstance(full_domain, Ball) and full_domain.radius == 0.0:
        free = np.arange(0)
        x_fixed = np.asarray(full_domain.center, dtype=np.float64).copy()
    q_eff = math.inf if full.output_dim == 1 else q_requested
    return Problem(reduced_net, reduced_domain, p, q_eff, full, full_domain, free, x_fixed, q_requested, output)
