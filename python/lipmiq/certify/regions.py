"""Activation regions as polyhedra: does a pattern's region meet the domain's interior, and where?

Under a fixed pattern every pre-activation is affine in x, z = A x + c. The LP
    max s  s.t.  (2g - 1)(A_j x + c_j) >= s ||A_j||_2  for every neuron whose A_j != 0,
                 x at distance >= s inside the domain (box faces; an outer polyhedron for 2-balls),  -1 <= s <= 1
has s > 0 exactly when the region meets the interior of the (polyhedral) domain. Solved with HiGHS; a
point is returned only with s > INTERIOR_TOL. A region counts as empty only with a proof (`Proof`: the
neurons whose signs it uses, so that callers can cut every pattern sharing them): a dual bound max s <= 0
verified in float64 with a rounding allowance (HiGHS's own s <= 0 once pruned a real region 1e-9 wide:
review finding), or, where the float LP cannot decide (max s within its tolerances of 0: a region whose
closure is a face, as at the degenerate points of bias-free networks), the exact decision of
`certify.exact_regions` (integer arithmetic on the network's own affine forms, both ways: empty or with
interior). Networks beyond its budget keep the older fallbacks (`_certified_nonpositive`): exact rationals
from HiGHS's final basis on the float64 forms, and on R^n (x unbounded) HiGHS's optimum below
-UNBOUNDED_LP_MARGIN in scaled units. Euclidean balls are made exact by cutting planes (`region_point`);
the region branch-and-bound keeps one warm-started model (`RegionLP`).
"""
from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import FrozenSet, List, Optional, Sequence, Tuple

import highspy
import numpy as np

from ..domain import Ball, Box, Domain
from ..problem import Problem
from ..solvers.highs import dual_bound, infeasible, max_lp, optimal, row_duals, run, scratch_highs
from ..tolerances import INTERIOR_TOL, UNBOUNDED_LP_MARGIN
from .exact_regions import ExactRegions, Key, Proof, affordable

Pattern = Sequence[np.ndarray]
MAX_CUTS = 200  # cutting planes per LP for Euclidean balls


def affine_forms(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], pattern: Pattern):
    """(A_k, c_k) with z_k = A_k x + c_k on the region of `pattern`, for the layers the pattern covers
    (its last entry may decide only some rows of a layer: then `weights` holds just those rows)."""
    forms = []
    A, c = weights[0], biases[0]
    for k, g in enumerate(pattern):
        forms.append((A, c))
        if k + 1 < len(pattern):
            gm = np.asarray(g, dtype=np.float64)
            A = weights[k + 1] @ (gm[:, None] * A)
            c = weights[k + 1] @ (gm * c) + biases[k + 1]
    return forms


def margin_rows(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], pattern: Pattern,
                skip: Optional[Pattern] = None):
    """(rows, rhs, keys): rows . (x, s) <= rhs of sign_j (a_j x + c_j) >= s ||a_j||_2 for every neuron whose
    a_j != 0 and not `skip`ped, keys[i] = (layer, neuron) of row i; a Proof when a constant pre-activation has
    the wrong sign. `skip` (per layer, True: no row; `region_point`) are neurons stable on the whole domain."""
    rows, rhs, keys = [], [], []
    for k, ((A, c), g) in enumerate(zip(affine_forms(weights, biases, pattern), pattern)):
        sign = 2.0 * np.asarray(g, dtype=np.float64) - 1.0
        norms = np.linalg.norm(A, axis=1)
        flat = norms == 0
        wrong = np.flatnonzero(flat & (sign * c < 0))
        if wrong.size:
            return Proof(frozenset([(k, int(wrong[0]))]))
        live = ~flat if skip is None or k >= len(skip) else ~flat & ~np.asarray(skip[k], dtype=bool)
        rows.append(np.hstack([-sign[live, None] * A[live], norms[live, None]]))
        rhs.append(sign[live] * c[live])
        keys.extend((k, int(j)) for j in np.flatnonzero(live))
    return rows, rhs, keys


def margin_lp(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], dom: Domain, pattern: Pattern,
              skip: Optional[Pattern] = None, closed_box: bool = False):
    """(M, b, lo, hi, k, n, keys) of the margin LP max s (s = column k; its first len(keys) rows are the
    neurons keys, the domain's follow); a Proof when the region is trivially empty.

    Bounded domains get finite bounds on every variable, bounds the rows already imply (the LP is
    unchanged), so that any dual vector gives a verifiable bound (`_certified_nonpositive`): s in [-1, 1],
    x within the domain's box hull widened by 1, the 1-norm slacks d within [0, radius + 1]. On R^n, x is
    free (its emptiness verdicts are weaker: see `_certified_nonpositive`).

    `closed_box` (box-shaped domains only, `_box_point`): x in the closed box as column bounds, no rows for
    the distance to its faces, so s is the margin of the region's rows alone."""
    n = weights[0].shape[1]
    built = margin_rows(weights, biases, pattern, skip)
    if isinstance(built, Proof):
        return built
    rows, rhs, keys = built
    k = n
    col_lo, col_hi = np.full(n + 1, -math.inf), np.full(n + 1, math.inf)
    col_lo[k], col_hi[k] = -1.0, 1.0
    hull = dom.box_hull()
    if hull is not None and closed_box:
        col_lo[:n], col_hi[:n] = hull
    elif hull is not None:
        lo, hi = np.asarray(hull[0], dtype=np.float64), np.asarray(hull[1], dtype=np.float64)
        col_lo[:n], col_hi[:n] = lo - 1.0, hi + 1.0
        eye = np.eye(n)
        rows.append(np.hstack([-eye, np.ones((n, 1))]))
        rhs.append(-lo)
        rows.append(np.hstack([eye, np.ones((n, 1))]))
        rhs.append(hi)
    if isinstance(dom, Ball) and not math.isinf(dom.norm):
        # ||x - c||_1 + s <= r (norm 1), or the outer ||x - c||_1 <= sqrt(n) r (norm 2), with d >= |x - c|
        center = np.asarray(dom.center)
        bound = (1.0 if dom.norm == 1.0 else math.sqrt(n)) * dom.radius
        rows = [np.hstack([r, np.zeros((r.shape[0], n))]) for r in rows]
        eye = np.eye(n)
        rows.append(np.hstack([eye, np.zeros((n, 1)), -eye]))
        rhs.append(center)
        rows.append(np.hstack([-eye, np.zeros((n, 1)), -eye]))
        rhs.append(-center)
        rows.append(np.hstack([np.zeros((1, n)), [[1.0 if dom.norm == 1.0 else 0.0]], np.ones((1, n))]))
        rhs.append(np.array([bound]))
        col_lo = np.concatenate([col_lo, np.zeros(n)])
        col_hi = np.concatenate([col_hi, np.full(n, bound + 1.0)])
    M = np.vstack(rows) if rows else np.zeros((0, col_lo.size))
    b = np.concatenate(rhs) if rhs else np.zeros(0)
    return M, b, col_lo, col_hi, k, n, keys


def region_lp(problem: Problem, pattern: List[np.ndarray], prove: bool = True,
              deadline: float = math.inf) -> Tuple[Optional[np.ndarray], float, Optional[Proof]]:
    """(x, s, proof) for the region of `pattern` (problem network) in the problem's domain: `region_point`."""
    return region_point(problem.network.weights, problem.network.biases, problem.domain, pattern, deadline, prove)


def interior_point(problem: Problem, pattern: List[np.ndarray],
                   deadline: float = math.inf) -> Tuple[Optional[np.ndarray], float]:
    """A point of the region of `pattern` (problem network) deep inside the domain, and its margin s;
    (None, s) when there is none with s > INTERIOR_TOL."""
    x, s, _ = region_lp(problem, pattern, prove=False, deadline=deadline)
    return x, s


def emptiness_proof(problem: Problem, pattern: List[np.ndarray], deadline: float = math.inf) -> Optional[Proof]:
    """A proof that the region of `pattern` has no interior in the domain, or None. A thin region, or one that
    cannot be decided, is NOT empty: callers keep it (no cut, no prune), even though no witness can be
    certified there."""
    return region_lp(problem, pattern, deadline=deadline)[2]


def empty_interior(problem: Problem, pattern: List[np.ndarray], deadline: float = math.inf) -> bool:
    """True only when the region provably has no interior in the domain (`emptiness_proof`)."""
    return emptiness_proof(problem, pattern, deadline) is not None


def _power_of_two(values: np.ndarray) -> np.ndarray:
    """Powers of two near 1 / values (1 where a value is 0): exact rescaling factors."""
    out = np.ones_like(values)
    nz = values > 0
    out[nz] = 2.0 ** -np.round(np.log2(values[nz]))
    return out


def _solve_max_last(M: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int, prove: bool = False,
                    fallback: bool = True, deadline: float = math.inf):
    """max x[n] s.t. M x <= b, lo <= x <= hi: (value, x, rows, active) with (-inf, None, ...) if infeasible;
    `rows` (only with prove=True) are the rows of a proof that the maximum is <= 0, None without one
    (`_certified_nonpositive`; `fallback` adds its unverified-row fallbacks); `active` the rows with nonzero
    duals at HiGHS's optimum (a guess for the exact decision; empty without an optimum).

    Columns (the margin's too) and rows are scaled by powers of two first, an exact change of variables:
    HiGHS treats entries below 1e-9 as zero, which made real regions of badly scaled networks look empty.
    Rows are scaled by their largest entry outside the margin column, so that no row loses its x part
    (the region's geometry); a margin entry that becomes tiny can only make the margin look larger,
    which never cuts a real region (review finding: with 1e10-scale gradients the unscaled margin
    column shrank every x entry below 1e-9 and real regions were pruned). Column scaling can still shrink
    the x entries of rows whose other entries are large (a ball's rows x - d <= c next to 1e9-scale
    gradients: review finding, a real region of a fully stable network read as empty and an upper bound
    of 0), so infeasibility is believed only when the LP without column scaling is infeasible too.
    """
    for columns in (True, False):
        col, row = _scaling(M, n, columns)
        Ms, bs, los, his = M * col * row[:, None], b * row, lo / col, hi / col
        h = max_lp(Ms, bs, los, his, n, into=scratch_highs())
        run(h, deadline)
        if infeasible(h):
            continue  # believed only when the other scaling agrees (below)
        if not optimal(h):
            return -math.inf, None, None, np.zeros(0, dtype=np.int64)
        y = np.asarray(h.getSolution().col_value)
        value = float(y[n]) * col[n]
        rows = _certified_nonpositive(Ms, bs, los, his, n, h, fallback) if prove and value <= INTERIOR_TOL else None
        return value, y * col, rows, np.flatnonzero(row_duals(h))
    # Infeasible under both scalings although every bound and row only asks for margin s >= -1: the region
    # stays at distance > 1 (in units of its rows) from the domain, which HiGHS's tolerances cannot blur.
    return -math.inf, None, np.arange(M.shape[0]) if prove else None, np.zeros(0, dtype=np.int64)


def _scaling(M: np.ndarray, n: int, columns: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Power-of-two column factors (by each column's largest entry; ones when `columns` is False) and row
    factors (by the row's largest entry outside the margin column n, after the column scaling)."""
    col = _power_of_two(np.max(np.abs(M), axis=0)) if columns and M.shape[0] else np.ones(M.shape[1])
    others = np.delete(M * col, n, axis=1)
    reach = np.max(np.abs(others), axis=1) if others.shape[1] else np.zeros(M.shape[0])
    reach = np.where(reach > 0, reach, np.abs(M[:, n] * col[n]))  # rows on the margin alone
    return col, (_power_of_two(reach) if M.shape[0] else np.ones(0))


# ---- verified emptiness ---------------------------------------------------------------------------
# Weak duality (`solvers.highs.dual_bound`): with every bound finite, any multipliers give a valid bound on
# max s, so HiGHS's duals need not be exact: the bound is evaluated with a rounding allowance (float) or
# exactly (rationals), never trusted. The rows with nonzero multipliers are the proof's rows.

def _exact_basis_bound(M, b, lo, hi, k, h: highspy.Highs) -> Optional[Tuple[Fraction, List[int]]]:
    """The bound in exact rational arithmetic for the duals of HiGHS's final basis, re-solved exactly:
    sum_i M_ij y_i = [j == k] on the basic columns, y on the rows at their bound; with the rows it uses.
    At a degenerate vertex (a region whose closure is a point or a face: max s = 0 exactly) only exact duals
    prove max s <= 0 (on the float64 rows: `certify.exact_regions` decides on the network's exact ones)."""
    basis = h.getBasis()
    if not basis.valid:
        return None
    active = [i for i, st in enumerate(basis.row_status) if st == highspy.HighsBasisStatus.kUpper]
    basic = [j for j, st in enumerate(basis.col_status) if st == highspy.HighsBasisStatus.kBasic]
    if len(active) != len(basic):
        return None
    size = len(active)
    A = [[Fraction(float(M[i, j])) for i in active] + [Fraction(int(j == k))] for j in basic]
    for c in range(size):  # Gauss-Jordan on [M_B^T | e_k], exact
        pivot = next((r for r in range(c, size) if A[r][c] != 0), None)
        if pivot is None:
            return None
        A[c], A[pivot] = A[pivot], A[c]
        for r in range(size):
            if r != c and A[r][c] != 0:
                f = A[r][c] / A[c][c]
                A[r] = [a - f * p for a, p in zip(A[r], A[c])]
    y = {i: A[c][size] / A[c][c] for c, i in enumerate(active)}
    if any(v < 0 for v in y.values()):
        return None
    bound = sum((v * Fraction(float(b[i])) for i, v in y.items()), Fraction(0))
    for j in range(M.shape[1]):
        r = Fraction(int(j == k)) - sum((v * Fraction(float(M[i, j])) for i, v in y.items() if M[i, j] != 0), Fraction(0))
        if r == 0:
            continue
        edge = hi[j] if r > 0 else lo[j]
        if not math.isfinite(edge):
            return None  # a free direction the duals do not cancel exactly: no bound
        bound += r * Fraction(float(edge))
    return bound, [i for i, v in y.items() if v != 0]


def _certified_nonpositive(M, b, lo, hi, k, h: highspy.Highs, fallback: bool = True) -> Optional[np.ndarray]:
    """The rows of a proof that max x_k <= 0, or None: a weak-duality bound verified in float64 (every bound
    finite). With `fallback` (networks beyond the exact decision's budget) also: HiGHS's optimum deeper than
    UNBOUNDED_LP_MARGIN below 0 (unbounded x on R^n: 1e-6 in scaled units is far beyond its 1e-7 tolerances,
    but this is not a proof; all rows), else an exact rational bound from HiGHS's basis on the float64 rows
    (where the maximum is exactly 0: a region whose closure is a face)."""
    if np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)):
        duals = row_duals(h)
        if duals.size == M.shape[0]:
            rows, cols = np.nonzero(M)
            c = np.zeros(M.shape[1])
            c[k] = -1.0  # max x_k = -min(-x_k); rows M x <= b carry multipliers y <= 0 in the min form
            for y in (-np.maximum(duals, 0.0), -np.maximum(-duals, 0.0)):
                if -dual_bound(c, rows, cols, M[rows, cols], np.full(M.shape[0], -np.inf), b, lo, hi, y) <= 0.0:
                    return np.flatnonzero(y)
    elif fallback and float(h.getSolution().col_value[k]) < -UNBOUNDED_LP_MARGIN:
        return np.arange(M.shape[0])
    if not fallback:
        return None
    exact = _exact_basis_bound(M, b, lo, hi, k, h)
    return np.asarray(exact[1], dtype=np.int64) if exact is not None and exact[0] <= 0 else None


def _proof(rows: np.ndarray, keys: List[Key]) -> Proof:
    """The proof of an LP's rows: the neurons of those among the region's rows."""
    return Proof(frozenset(keys[i] for i in rows if i < len(keys)))


# ---- points of regions on the domain --------------------------------------------------------------
def domain_slack(dom: Domain, x: np.ndarray) -> float:
    """How far x lies inside the domain (its norm's distance to the boundary; negative outside; inf on R^n)."""
    if isinstance(dom, Box):
        return float(min(np.min(x - np.asarray(dom.lo)), np.min(np.asarray(dom.hi) - x)))
    if isinstance(dom, Ball):
        return float(dom.radius) - float(np.linalg.norm(x - np.asarray(dom.center), ord=dom.norm))
    return math.inf


def domain_centre(problem: Problem) -> Tuple[np.ndarray, float]:
    """A point of the domain's interior and its distance to the boundary (Euclidean ball inside)."""
    dom, n = problem.domain, problem.network.input_dim
    if isinstance(dom, Box):
        lo, hi = np.asarray(dom.lo, float), np.asarray(dom.hi, float)
        return (lo + hi) / 2.0, float(np.min(hi - lo)) / 2.0
    if isinstance(dom, Ball):
        scale = 1.0 if dom.norm != 1.0 else 1.0 / math.sqrt(n)
        return np.asarray(dom.center, float).copy(), float(dom.radius) * scale
    return np.zeros(n), 1.0


def region_point(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], dom: Domain, pattern: Pattern,
                 deadline: float = math.inf, prove: bool = True, exact: bool = True,
                 skip: Optional[Pattern] = None) -> Tuple[Optional[np.ndarray], float, Optional[Proof]]:
    """(x, s, proof) for a pattern of the network given by `weights` and `biases` (the last pattern entry may
    cover only the rows `weights` keeps of its layer): a point x deep inside the region and the domain with its
    margin s (x is None unless s > INTERIOR_TOL), and (prove=True) a Proof that the region has no interior in
    the domain, or None. A region with neither is too thin to decide, or could not be decided in time.

    Euclidean balls are made exact by cutting planes d.(x - c) + s <= r: the returned x has a Euclidean s-ball
    inside the region and the true ball; emptiness is proved on the outer polyhedron with the cuts (valid for
    the ball). Where the float LP proves nothing (max s within its tolerances of 0), the exact decision
    (`certify.exact_regions`) settles the networks within its budget (exact=False leaves it to the caller).

    `skip` (per layer, True: no row) may name neurons whose pre-activation has the pattern's sign (>= 0 on, <= 0
    off) on the whole domain. Both verdicts stay exact without their rows: the region is a subset of the LP's set
    (a proof holds), and on that open set the forms are the true pre-activations (a skipped neuron at 0 has relu 0
    either way), so removing the skipped neurons' hyperplanes (a != 0) from it leaves interior. On digits28's
    784-256-256-1 (29 of 512 neurons unstable) a leaf's LP shrinks from 512 dense rows to the unstable ones."""
    if time.perf_counter() >= deadline:
        return None, math.nan, None  # no time to decide
    decidable = affordable(weights)  # else the older fallbacks of _certified_nonpositive
    if box_shaped(dom):
        found = _box_point(weights, biases, dom, pattern, skip, prove, decidable, deadline)
        if found is not None:
            return found
    built = margin_lp(weights, biases, dom, pattern, skip)
    if isinstance(built, Proof):
        return None, -math.inf, built
    M, b, lo, hi, k, n, keys = built
    euclid = isinstance(dom, Ball) and dom.norm == 2.0
    for _ in range(MAX_CUTS if euclid else 1):
        s, x, rows, active = _solve_max_last(M, b, lo, hi, k, prove=prove, fallback=not decidable, deadline=deadline)
        if x is None or s <= INTERIOR_TOL:
            if rows is not None:
                return None, s, _proof(rows, keys)
            if not (exact and prove and decidable):
                return None, s, None
            exact_regions = ExactRegions(weights, biases, dom)
            return None, s, exact_regions.decide(pattern, deadline, _proof(active, keys).neurons)
        if not euclid:
            return x[:n], s, None
        center, radius = np.asarray(dom.center, dtype=np.float64), float(dom.radius)
        d = x[:n] - center
        dist = float(np.linalg.norm(d))
        if min(s, radius - dist) > INTERIOR_TOL:  # an s'-ball around x lies in the region and the ball
            return x[:n], min(s, radius - dist), None
        cut = np.zeros(M.shape[1])
        cut[:n], cut[k] = d / dist, 1.0
        M, b = np.vstack([M, cut]), np.append(b, radius + float(d @ center) / dist)
    return None, math.nan, None  # undecided after MAX_CUTS


def box_shaped(dom: Domain) -> bool:
    """Boxes and l-inf balls: domains whose margin LP has only the box's face rows besides the region's."""
    return isinstance(dom, Box) or (isinstance(dom, Ball) and math.isinf(dom.norm))


def _box_point(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], dom: Domain, pattern: Pattern,
               skip: Optional[Pattern], prove: bool, decidable: bool,
               deadline: float) -> Optional[Tuple[Optional[np.ndarray], float, Optional[Proof]]]:
    """`region_point` on a box-shaped domain without the 2n rows of the distance to its faces: max s over the
    region's rows with x in the closed box (column bounds). Both verdicts carry over: a region with interior in
    the box has points of margin s > 0 there, and an open region meeting the closed box meets its interior,
    where x pulled toward the centre by at most s / 2 (in distance) lands. None when this LP decides nothing
    (the full LP then does). On 784 inputs 58 -> 1.6 ms per LP (HiGHS's dual simplex, 29 region rows)."""
    built = margin_lp(weights, biases, dom, pattern, skip, closed_box=True)
    if isinstance(built, Proof):
        return None, -math.inf, built
    M, b, lo, hi, k, n, keys = built
    s, x, rows, _ = _solve_max_last(M, b, lo, hi, k, prove=prove, fallback=not decidable, deadline=deadline)
    if x is None or s <= INTERIOR_TOL:
        return (None, s, _proof(rows, keys)) if rows is not None else None
    lo, hi = lo[:n], hi[:n]
    x = np.clip(x[:n], lo, hi)
    toward = (lo + hi) / 2.0 - x
    dist = float(np.linalg.norm(toward))
    y = x + (0.5 if dist == 0.0 else min(0.5, s / (2.0 * dist))) * toward
    # the margin at y, recomputed: the region's rows (their s coefficient is ||a_j||_2 > 0) and the box's faces
    region = float(np.min((b - M[:, :n] @ y) / M[:, k])) if M.shape[0] else math.inf
    margin = min(region, float(np.min(y - lo)), float(np.min(hi - y)))
    return (y, margin, None) if margin > INTERIOR_TOL else None


class RegionLP:
    """max s over {x in the domain at distance >= s from its faces, sign_j (a_j.x + c_j) >= s ||a_j||_2 for
    the pushed rows}: one HiGHS model whose region rows are pushed and popped along the depth-first search,
    each solve warm-started from the previous basis (a 2-ball's LP is its outer polyhedron: its points are only
    candidates there)."""

    def __init__(self, problem: Problem):
        M, b, lo, hi, k, n, _ = margin_lp(problem.network.weights, problem.network.biases, problem.domain, [])  # the domain's rows
        self.n = n  # the margin's column is k == n
        self.domain = problem.domain
        self.h = max_lp(M, b, lo, hi, k)
        self.base = self.rows = self.h.getNumRow()
        self.keys: List[Key] = []  # (layer, neuron) of each pushed row
        # sign (a, c) / ||a|| of each pushed row, stacked for the float64 margin re-check (rows `count` and up unused)
        self.forms, self.offsets, self.count = np.zeros((8, self.n)), np.zeros(8), 0

    def push(self, a: np.ndarray, c: float, sign: float, key: Key) -> None:
        norm = float(np.linalg.norm(a))
        idx = np.concatenate([np.flatnonzero(a), [self.n]]).astype(np.int32)
        vals = np.concatenate([-sign * a[a != 0], [norm]])
        self.h.addRow(-highspy.kHighsInf, sign * c, idx.size, idx, vals)
        self.rows += 1
        self.keys.append(key)
        if self.count == self.offsets.size:
            self.forms = np.vstack([self.forms, np.zeros_like(self.forms)])
            self.offsets = np.concatenate([self.offsets, np.zeros_like(self.offsets)])
        self.forms[self.count], self.offsets[self.count] = sign * a / norm, sign * c / norm
        self.count += 1

    def pop(self) -> None:
        self.rows -= 1
        self.keys.pop()
        self.count -= 1
        self.h.deleteRows(1, np.array([self.rows], dtype=np.int32))

    def margin(self, x: np.ndarray) -> float:
        """The margin of x recomputed in float64: its distance to the pushed rows' hyperplanes on their sides
        and to the domain's boundary (negative outside). HiGHS's point may violate rows by its tolerance (1e-7):
        in regions of width 1e-6 (tiny biases) that put it in another region."""
        rows = float(np.min(self.forms[:self.count] @ x + self.offsets[:self.count])) if self.count else math.inf
        return min(rows, domain_slack(self.domain, x))

    def solve(self, deadline: float = math.inf) -> Tuple[Optional[np.ndarray], float]:
        run(self.h, deadline)
        if not optimal(self.h):
            return None, -math.inf
        x = np.asarray(self.h.getSolution().col_value)
        s = float(x[self.n])
        return (x[:self.n].copy(), s) if s > INTERIOR_TOL else (None, s)

    def active(self) -> FrozenSet[Key]:
        """The pushed rows with nonzero duals at the last optimum: where a certificate of emptiness is likely."""
        duals = row_duals(self.h)[self.base:self.rows] if optimal(self.h) else np.zeros(0)
        return frozenset(self.keys[i] for i in np.flatnonzero(duals))
