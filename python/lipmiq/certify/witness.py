"""Certification of lower bounds: a point x strictly inside an activation region, re-checked in float64.

If every pre-activation at x is nonzero (beyond a rounding margin), the pattern is constant on a
neighbourhood of x, so f is affine there with Jacobian J(pattern); x lies in the (convex, solid)
domain, so that region meets the domain in a set with non-empty interior and L >= ||J v||_q/||v||_p.
A neuron whose pre-activation cannot depend on the input under the upstream pattern (structurally
zero gradient) is constant near x and adds nothing to J, so it needs no margin.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import List, Optional, Tuple

import numpy as np

from .. import _core
from ..bounds.jacobian import rounding_gamma
from ..network import Network
from ..problem import Problem
from ..result import Witness
from ..tolerances import EXACT_OPS, WITNESS_MARGIN_RTOL, WITNESS_VALUE_RTOL
from .exact_regions import Proof
from .regions import region_point


def pattern_at(net: Network, x: np.ndarray, free: np.ndarray) -> Tuple[Optional[List[np.ndarray]], float]:
    """The activation pattern at x if it is locally constant, with the smallest relative margin."""
    a = np.asarray(x, dtype=np.float64)
    pattern: List[np.ndarray] = []
    depends = None  # depends[j, i]: neuron j may depend on free input i (computed only when needed)
    min_margin = np.inf
    for k, layer in enumerate(net.layers[:-1]):
        z = layer.W @ a + layer.b
        scale = np.abs(layer.W) @ np.abs(a) + np.abs(layer.b)
        ok = np.abs(z) > WITNESS_MARGIN_RTOL * scale + 1e-300
        g = z > 0
        if not ok.all() and depends is None:
            depends = _dependence(net, pattern, free, k)
        if depends is not None:
            dep_k = (np.abs(layer.W) > 0).astype(np.float64) @ depends > 0
            for j in np.flatnonzero(~ok & dep_k.any(axis=1)):
                if not _exactly_flat(net, pattern, k, int(j), free):
                    return None, 0.0
                dep_k[j] = False  # constant near x: adds nothing to J and needs no margin
            depends = dep_k & g[:, None]
        if ok.any():
            min_margin = min(min_margin, float(np.min(np.abs(z[ok]) / np.maximum(scale[ok], 1e-300))))
        pattern.append(g.astype(np.uint8))
        a = np.where(g, z, 0.0)
    return pattern, float(min_margin)


def _exactly_flat(net: Network, pattern: List[np.ndarray], layer: int, j: int, free: np.ndarray) -> bool:
    """True when neuron j of `layer` has an exactly zero gradient in the free inputs under the upstream
    pattern (rational arithmetic on the float64 weights): its pre-activation is then constant on the
    region, so it needs no margin. Seen where duplicated neurons feed w.a - w.a: a float zero alone
    could hide a cancellation, hence the exact check (skipped, i.e. False, on large networks)."""
    sizes = [layer_.W.size for layer_ in net.layers[:layer + 1]]
    if sum(sizes) > EXACT_OPS:
        return False
    row = [Fraction(float(w)) for w in net.layers[layer].W[j]]
    for k in range(layer - 1, -1, -1):
        W = net.layers[k].W
        row = [r if pattern[k][i] else Fraction(0) for i, r in enumerate(row)]
        row = [sum((r * Fraction(float(W[i, c])) for i, r in enumerate(row) if r and W[i, c]), Fraction(0))
               for c in range(W.shape[1])]
    return all(row[c] == 0 for c in free)


def _dependence(net: Network, pattern: List[np.ndarray], free: np.ndarray, upto: int) -> np.ndarray:
    """Boolean map (neuron of layer `upto`-1 output, free input) of structural dependence."""
    dep = np.zeros((net.input_dim, free.size), dtype=bool)
    dep[free, np.arange(free.size)] = True
    for k in range(upto):
        dep = ((np.abs(net.layers[k].W) > 0).astype(np.float64) @ dep > 0) & (pattern[k][:, None] > 0)
    return dep.astype(np.float64)


def direction_value(J: np.ndarray, v: np.ndarray, p: float, q: float) -> float:
    nv = float(np.linalg.norm(v, ord=p))
    return 0.0 if nv == 0.0 else float(np.linalg.norm(J @ v, ord=q)) / nv


def certified_value(net: Network, pattern: List[np.ndarray], v: np.ndarray, p: float, q: float) -> float:
    """A lower bound on ||J(pattern) v||_q / ||v||_p despite float64 rounding (v on all inputs of `net`):
    the computed value, less rounding_gamma * || |W_L| D ... D |W_1| |v| ||_q / ||v||_p (the entries of J v
    may cancel far below the products they are summed from), shrunk by WITNESS_VALUE_RTOL."""
    nv = float(np.linalg.norm(v, ord=p))
    if nv == 0.0:
        return 0.0
    value = float(np.linalg.norm(net.jacobian(pattern) @ v, ord=q)) / nv
    t = np.abs(v)
    for k, layer in enumerate(net.layers):
        t = np.abs(layer.W) @ t
        if k < len(pattern):
            t = t * pattern[k]
    slack = rounding_gamma(net.weights) * float(np.linalg.norm(t, ord=q)) / nv
    return max(value - slack, 0.0) * (1.0 - WITNESS_VALUE_RTOL)


def certify(problem: Problem, x: np.ndarray, v: Optional[np.ndarray] = None) -> Optional[Witness]:
    """A re-checked witness at (a projection into the domain of) x, or None if x is on a region boundary.

    x and v are in the problem's free coordinates. The direction is the better of v and the
    operator-norm maximiser of J(pattern) computed by the core.
    """
    x_red = problem.domain.project(np.asarray(x, dtype=np.float64).reshape(-1))
    if not problem.domain.contains(x_red):  # a projection that failed (NaN, overflow): never certified
        return None
    x_full = problem.inputs.lift_point(x_red)
    pattern, margin = pattern_at(problem.full, x_full, problem.free)
    if pattern is None:
        return None
    J = problem.full.jacobian(pattern)[:, problem.free]
    _, V, _ = _core.operator_norms(np.ascontiguousarray(J[None]), problem.p, problem.q)
    best_v = V[0]
    best = direction_value(J, best_v, problem.p, problem.q)
    if v is not None:
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        value = direction_value(J, v, problem.p, problem.q)
        if value > best:
            best, best_v = value, v
    v_full = problem.inputs.lift_direction(best_v)
    return Witness(x_full, v_full, pattern, certified_value(problem.full, pattern, v_full, problem.p, problem.q), margin)


def decide_region(problem: Problem, pattern: List[np.ndarray], v: np.ndarray, value: float, lower: float,
                  deadline: float = math.inf, skip: Optional[List[np.ndarray]] = None
                  ) -> Tuple[Optional[bool], Optional[Witness], Optional[Proof]]:
    """One full pattern decided by its region LP (the branch-and-bounds' leaves): (True, witness, None) with an
    interior point, the witness there when the pattern's `value` (||J|| with maximiser v) beats `lower`;
    (False, None, proof) when proved to have no interior; (None, None, None) when undecided (too thin, or time).
    `skip`: neurons with the pattern's sign on the whole domain, left out of the LP (`region_point`)."""
    x, _, proof = region_point(problem.network.weights, problem.network.biases, problem.domain, pattern, deadline,
                               skip=skip)
    if x is None:
        return (False if proof is not None else None), None, proof
    return True, (certify(problem, x, v) if value > lower else None), None


def recheck(problem: Problem, witness: Witness) -> float:
    """Recompute a witness from scratch on the full network; returns its certified value or raises."""
    if not problem.full_domain.contains(witness.x):
        raise AssertionError("witness x lies outside the domain")
    pattern, _ = pattern_at(problem.full, witness.x, problem.free)
    if pattern is None:
        raise AssertionError("witness x lies on an activation boundary")
    if any(not np.array_equal(g, h) for g, h in zip(pattern, witness.pattern)):
        raise AssertionError("witness pattern differs from the pattern at x")
    fixed = np.ones(witness.v.size, dtype=bool)
    fixed[problem.free] = False  # a mask, not np.setdiff1d: that loads numpy.ma, ~10 ms of a fresh process's query
    if np.any(witness.v[fixed] != 0):
        raise AssertionError("witness direction moves a fixed coordinate")
    value = certified_value(problem.full, pattern, witness.v, problem.p, problem.q)
    if value < witness.value * (1.0 - WITNESS_VALUE_RTOL):
        raise AssertionError(f"witness value {witness.value} does not re-check ({value})")
    return value
