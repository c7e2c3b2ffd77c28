"""Exact decisions about activation regions: does a pattern's region meet the domain's interior? Decided in
integer arithmetic on the float64 network itself, for the regions the float LP cannot decide (margin ~ 0).

Under a pattern every pre-activation is affine, z_j = a_j x + c_j, and the region with the domain's interior
is {x : sign_j (a_j x + c_j) > 0 for every neuron whose a_j != 0, x in int(X)}: a system of STRICT linear
inequalities r_i . (x, 1) > 0 (the domain's rows r_i too, for polyhedral X). Neurons with a_j = 0 are constant
on the region: they add nothing to J, impose nothing when sign_j c_j >= 0, and make the pattern impossible
when sign_j c_j < 0.

Motzkin's transposition theorem: {x : M x + c > 0} is empty iff some y >= 0, y != 0 has M^T y = 0 and
c^T y <= 0.
  (if) for any x, 0 < y.(M x + c) = c.y <= 0 would be a contradiction.
  (only if) emptiness makes {(x, t) : M x + c t > 0, t > 0} empty (x / t would solve the system), and
  Gordan's theorem gives (y, y0) >= 0, not zero, with M^T y = 0, c.y + y0 = 0; y = 0 would force y0 = 0.
So the phase-1 simplex below, run in exact integer arithmetic on {y >= 0, sigma >= 0 : M^T y = 0,
c.y + sigma = 0, sum y = 1}, decides emptiness both ways: feasible = a certificate (the region is empty),
infeasible = the region has interior in the domain. Bland's rule makes it terminate. The rows are the pattern's affine forms
computed exactly from the float64 weights (integers times powers of two): exact dependences of the network
(a row that is the sum of two others, duplicated or opposite neurons, a layer whose output vanishes on a
face) stay exact, where the float64 forms would turn a line into a sliver 1e-16 wide.

The neurons with y_i > 0 form the certificate: any pattern that agrees with this one on them (and on the
upstream neurons their affine forms depend on) has the same rows, hence no interior (`Proof`).

Euclidean balls are not polyhedral: on a cone region (no constant terms, e.g. a bias-free network) with 0
inside the ball, int(C) meets int(B) iff int(C) is not empty (no domain rows); with 0 on the sphere, iff
int(C) meets {c.x > 0} (near 0, ||x - c||^2 < ||c||^2 iff 2 c.x > ||x||^2); otherwise the ball's box hull
is used, which proves emptiness (a superset) but cannot prove interior.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

import numpy as np

from ..domain import Ball, Box, Domain, Global
from ..tolerances import EXACT_REGION_OPS

Key = Tuple[int, int]  # (hidden layer, neuron) of a region row
Dyadic = Tuple[List[int], int]  # integers m_i and e: the values m_i / 2**e


@dataclass(frozen=True)
class Proof:
    """A region proved to have no interior in the domain, and the neurons whose sign constraints the proof
    uses."""

    neurons: FrozenSet[Key]


def affordable(weights: Sequence[np.ndarray]) -> bool:
    """True when an exact decision on this network (or a part of it) stays within EXACT_REGION_OPS integer
    multiply-adds, roughly: the affine forms (sum of h_k h_(k-1) (n + 1)) and a few pivots of the exact LP
    ((n + 2) x its rows each, counting a 1-ball's n auxiliary columns)."""
    n = weights[0].shape[1]
    sizes = [n] + [W.shape[0] for W in weights]
    forms = sum(a * b for a, b in zip(sizes[1:], sizes[:-1])) * (n + 1)
    rows = sum(sizes[1:]) + 3 * n + 1
    return forms + 8 * (2 * n + 3) * (rows + 2 * n + 3) <= EXACT_REGION_OPS


def _dyadic(values) -> Dyadic:
    """float64 values as integers over one power of two, exactly (every float64 is a dyadic rational)."""
    pairs = [float(v).as_integer_ratio() for v in np.asarray(values, dtype=np.float64).ravel()]
    e = max((d.bit_length() - 1 for _, d in pairs), default=0)
    return [num << (e - (den.bit_length() - 1)) for num, den in pairs], e


def _coprime(row: List[int]) -> List[int]:
    """The row divided by the gcd of its entries (a positive factor: the strict inequality is the same)."""
    div = math.gcd(*row)
    return [v // div for v in row] if div > 1 else row


class ExactRegions:
    """Exact decisions for the regions of one network (given by `weights`, `biases`; the last layer's rows may be
    a subset) in one domain: the weights as integers over powers of two, the affine forms under each pattern
    prefix (cached: the region branch-and-bound asks for the same prefixes again and again), the domain's rows."""

    def __init__(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], domain: Domain):
        self.n = weights[0].shape[1]
        self.weights = [(_dyadic(W), W.shape[1]) for W in weights]
        self.biases = [_dyadic(b) for b in biases]
        self.domain = domain
        self._forms: Dict[bytes, Tuple[List[List[int]], int]] = {}
        self._domain: Dict[bool, Optional[Tuple[List[List[int]], int]]] = {}

    def _layer(self, k: int, prefix: Sequence[np.ndarray]) -> Tuple[List[List[int]], int]:
        """Layer k's affine forms [x-part | constant] * 2**-e under the patterns `prefix` of layers < k."""
        key = b"|".join(np.asarray(g, dtype=np.uint8).tobytes() for g in prefix[:k])
        if key in self._forms:
            return self._forms[key]
        (W, ew), cols = self.weights[k]
        b, eb = self.biases[k]
        if k == 0:
            e = max(ew, eb)
            forms = [[v << (e - ew) for v in W[i * cols:(i + 1) * cols]] + [b[i] << (e - eb)] for i in range(len(b))]
        else:
            prev, ep = self._layer(k - 1, prefix)
            g = prefix[k - 1]
            live = [i for i in range(cols) if g[i]]
            width = self.n + 1
            e = max(ew + ep, eb)
            forms = []
            for i in range(len(b)):
                w = W[i * cols:(i + 1) * cols]
                row = [0] * width
                for j in live:
                    if w[j]:
                        f, wj = prev[j], w[j]
                        for c in range(width):
                            row[c] += wj * f[c]
                shift = e - ew - ep
                row = [v << shift for v in row] if shift else row
                row[-1] += b[i] << (e - eb)
                forms.append(row)
        self._forms[key] = (forms, e)
        return forms, e

    def region_rows(self, pattern: Sequence[np.ndarray]):
        """The exact strict rows of a pattern: (rows, keys, cone) with rows[i] . (x, 1) > 0 required for the neuron
        keys[i], cone True when no row has a constant term; or a Proof when a constant neuron has the wrong sign.
        The pattern's last entry may leave neurons undecided (-1): they have no row."""
        rows, keys, cone = [], [], True
        for k, g in enumerate(pattern):
            forms, _ = self._layer(k, pattern)
            for j, form in enumerate(forms):
                if g[j] < 0:
                    continue
                sign = 1 if g[j] > 0 else -1
                if not any(form[:-1]):
                    if sign * form[-1] < 0:
                        return Proof(frozenset([(k, j)]))
                    continue
                rows.append(_coprime([sign * v for v in form]))
                keys.append((k, j))
                cone = cone and form[-1] == 0
        return rows, keys, cone

    def domain_rows(self, cone: bool) -> Optional[Tuple[List[List[int]], int]]:
        """(rows over (x, aux, 1), aux columns) of the domain's interior, or of a polyhedron containing it (a
        Euclidean ball's box hull, unless the region is a cone and 0 lies in the closed ball)."""
        if cone not in self._domain:
            self._domain[cone] = _domain_rows(self.domain, self.n, cone)
        return self._domain[cone]

    def decide(self, pattern: Sequence[np.ndarray], deadline: float = math.inf,
               guess: Optional[FrozenSet[Key]] = None) -> Optional[Proof]:
        """A Proof that the region of `pattern` has no interior in the domain, or None: it has interior (exactly,
        for polyhedral domains), or the deadline stopped the decision. The exact simplex runs first on the
        neurons `guess` (e.g. those with nonzero duals in a float LP of the region) with the domain's rows (a
        certificate of a subsystem is one of the system), then, if that fails, on every row."""
        built = self.region_rows(pattern)
        if isinstance(built, Proof):
            return built
        rows, keys, cone = built
        dom = self.domain_rows(cone)
        if dom is None:
            return None
        drows, aux = dom
        system, owner, seen = [], [], set()
        for i, row in enumerate([r[:-1] + [0] * aux + r[-1:] for r in rows] + drows):
            if tuple(row) not in seen:  # duplicated neurons give identical rows (coprime integers)
                seen.add(tuple(row))
                system.append(row)
                owner.append(keys[i] if i < len(keys) else None)
        support = None
        if guess is not None:
            first = [i for i, key in enumerate(owner) if key is None or key in guess]
            if len(first) < len(system):
                found = strict_certificate([system[i] for i in first], deadline)
                support = None if found is None else [first[i] for i in found]
        if support is None:
            support = strict_certificate(system, deadline)
        return None if support is None else Proof(frozenset(owner[i] for i in support if owner[i] is not None))


def _domain_rows(domain: Domain, n: int, cone: bool) -> Optional[Tuple[List[List[int]], int]]:
    """`ExactRegions.domain_rows`, computed (integer rows: x_i - lo_i > 0 is 2**e x_i - m > 0 for lo_i = m / 2**e)."""
    if isinstance(domain, Global):
        return [], 0
    if isinstance(domain, Box):
        (lo, elo), (hi, ehi) = _dyadic(domain.lo), _dyadic(domain.hi)
        bounds = [(lo[i], elo, hi[i], ehi) for i in range(n)]
    elif isinstance(domain, Ball):
        (c, ec), (r, er) = _dyadic(domain.center), _dyadic([domain.radius])
        if domain.norm == 2.0 and cone:
            e = max(ec, er)
            cc = sum((v << (e - ec)) ** 2 for v in c)
            rr = (r[0] << (e - er)) ** 2
            if cc < rr:  # 0 inside the ball: int(C) meets int(B) iff int(C) is not empty
                return [], 0
            if cc == rr:  # 0 on the sphere: iff int(C) meets {c.x > 0}
                return [_coprime(c + [0])], 0
        e = max(ec, er)
        cs, rs = [v << (e - ec) for v in c], r[0] << (e - er)
        if domain.norm == 1.0:  # d_i > +-(x_i - c_i), sum d < r: its projection on x is the open 1-ball
            rows = []
            for i in range(n):
                for sign in (1, -1):
                    row = [0] * (2 * n + 1)
                    row[i], row[n + i], row[-1] = -sign << e, 1 << e, sign * cs[i]
                    rows.append(_coprime(row))
            rows.append(_coprime([0] * n + [-(1 << e)] * n + [rs]))  # 2**e (r - sum d) > 0
            return rows, n
        bounds = [(cs[i] - rs, e, cs[i] + rs, e) for i in range(n)]  # the box (hull) of an inf- (2-) ball
    else:
        return None
    rows = []
    for i, (lo_i, elo, hi_i, ehi) in enumerate(bounds):
        row = [0] * (n + 1)
        row[i], row[-1] = 1 << elo, -lo_i
        rows.append(_coprime(row))
        row = [0] * (n + 1)
        row[i], row[-1] = -(1 << ehi), hi_i
        rows.append(_coprime(row))
    return rows, 0


def strict_certificate(rows: Sequence[Sequence[int]], deadline: float = math.inf) -> Optional[List[int]]:
    """The rows with y_i > 0 of a Motzkin certificate that the strict system rows[i] . (x, 1) > 0 is infeasible;
    None when it is feasible or the deadline stopped the simplex.

    Phase 1 of the simplex method on {y >= 0, sigma >= 0 : M^T y = 0, c.y + sigma = 0, sum y = 1} with one
    artificial per equality, Bland's rule (no cycling), in integer arithmetic: the tableau is T / D with integer
    T and D > 0 (the last pivot); a pivot p = T[r][c] > 0 maps T[i][j] to (T[i][j] p - T[i][c] T[r][j]) / D,
    an exact division (Edmonds), and D to p."""
    m = len(rows)
    if m == 0:
        return None
    N = len(rows[0]) - 1
    R = N + 2  # equalities; columns y (m), sigma, artificials (R), right-hand side
    width = m + 1 + R + 1
    T = [[0] * width for _ in range(R)]
    for i, row in enumerate(rows):
        for c in range(N + 1):
            T[c][i] = row[c]
        T[N + 1][i] = 1
    T[N][m] = 1
    for r in range(R):
        T[r][m + 1 + r] = 1
    T[N + 1][-1] = 1
    basis = [m + 1 + r for r in range(R)]
    z = [-sum(T[r][j] for r in range(R)) for j in range(m + 1)] + [0] * R + [-1]  # reduced costs of sum(artificials)
    T.append(z)
    D = 1
    while True:
        if time.perf_counter() > deadline:
            return None
        col = next((j for j in range(m + 1) if z[j] < 0), None)
        if col is None:
            break
        r = -1
        for i in range(R):  # ratio test T[i][-1] / T[i][col], ties to the smallest basic index (Bland)
            if T[i][col] > 0:
                if r < 0:
                    r = i
                    continue
                lhs, rhs = T[i][-1] * T[r][col], T[r][-1] * T[i][col]
                if lhs < rhs or (lhs == rhs and basis[i] < basis[r]):
                    r = i
        if r < 0:  # cannot happen: phase 1 is bounded below by 0
            return None
        p, prow = T[r][col], T[r]
        for i, row in enumerate(T):
            f = row[col]
            if i == r:
                continue
            if f:
                T[i] = [(v * p - f * w) // D for v, w in zip(row, prow)]
            elif p != D:
                T[i] = [v * p // D for v in row]
        z = T[R]
        D = p
        basis[r] = col
    if z[-1] != 0:
        return None  # sum of artificials > 0: no certificate, the strict system is feasible
    return sorted(b for r, b in enumerate(basis) if b < m and T[r][-1] > 0)
