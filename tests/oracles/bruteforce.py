"""Independent brute-force oracle for the exact Lipschitz constant of small ReLU networks.

This module must NOT import anything from ``lipmiq``: the library is checked against it.
Only numpy and the HiGHS LP solver are used (through ``highspy`` when installed, which
is ~5x cheaper per call for these tiny LPs, else ``scipy.optimize.linprog(method="highs")``;
see LP_BACKEND).  It is meant to be simple and obviously correct rather than fast.

Network (CONVENTIONS.md): ``x_k = relu(W_k x_{k-1} + b_k)`` for the hidden layers,
``f(x) = W_L x_{L-1} + b_L``; ``W_k`` has shape (out, in).  ``weights``/``biases`` are
lists ``[W_1, ..., W_L]`` / ``[b_1, ..., b_L]`` (the npz arrays W0, b0, W1, b1, ...).

Quantity: ``L(p, q, X) = max ||J(g)||_{p->q}`` over the activation patterns ``g`` whose
region has a NON-EMPTY INTERIOR inside the domain ``X``, with
``J(g) = W_L diag(g_{L-1}) W_{L-1} ... diag(g_1) W_1``.  For a scalar output (``c`` an
output index or a weight vector, meaning ``c^T f``) the row ``c^T J`` is used and the
norm is the dual norm ``||J^T c||_{p*}`` (q is then irrelevant).

Domains: ``("box", lo, hi)`` (arrays or scalars broadcast to the input size),
``("ball", center, radius, ball_norm)`` with ball_norm in {1, 2, inf},
``("global",)``.  Norms p, q in {1, 2, inf} (``np.inf`` or the string "inf").
Box coordinates of zero width are fixed: the constant then only concerns directions in
the domain's affine hull (those input columns of W_1 are dropped and the fixed values
folded into b_1); "non-empty interior" is meant relative to that affine hull.

Region enumeration: depth-first search, neuron by neuron, layer by layer.  A node is a
partial pattern; with the earlier layers fixed, a neuron's pre-activation ``z_j(x)`` is
affine in x, so the node's region is the polyhedron
``{x in X : (2 g_j - 1) z_j(x) >= s ||grad z_j||_2 for every decided j}``.  A node is
kept iff a point with margin ``s > MARGIN_TOL`` exists (the Euclidean s-ball around it lies
in the region and in X): either a point is certified directly (numpy re-check of all the
constraints at a known point: the parent's point, or the LP optimum) or an LP maximising
s (s <= 1) is solved; a node is pruned only when the LP maximum is <= MARGIN_TOL, or when
the new constraint alone is violated by margin on all of X (``max_X sigma z_j <= tol``).
Euclidean balls enter the LP through an inf-ball relaxation plus cutting planes
``d.(x - c) + s <= r`` added until the LP point is certified.  A neuron whose affine form
has (numerically) zero gradient cannot change J; it is decided by the sign of its
constant (inactive if 0) without branching.
"""

import math

import numpy as np
from scipy.optimize import linprog

__all__ = [
    "MARGIN_TOL",
    "LP_BACKEND",
    "AmbiguousRegion",
    "load_npz",
    "forward_pattern",
    "jacobian",
    "dual_norm",
    "exact_opnorm",
    "regions",
    "region_jacobians",
    "exact_lipschitz",
    "sample_domain",
    "sampled_lower",
]

# A region counts as full-dimensional iff a Euclidean ball of radius > MARGIN_TOL around
# some point lies in it (and in the domain).  Absolute: assumes inputs of order 1e-3..1e3.
MARGIN_TOL = 1e-9
# A neuron's affine form counts as constant when ||grad|| <= ZERO_GRAD_RTOL times its
# a-priori bound ||W_k[j]||_2 ||H||_F (exactly zero rows / dead inputs give exactly 0).
ZERO_GRAD_RTOL = 1e-12
# Largest dimension for which sign vectors are enumerated (inf->1, inf->2, 2->1).
MAX_ENUM_DIM = 22
# Iteration cap of the cutting-plane loop for Euclidean balls (per LP).
MAX_CUTS = 500

_LP_OPTIONS = {
    "primal_feasibility_tolerance": 1e-10,
    "dual_feasibility_tolerance": 1e-10,
}


# LP backend: "highspy" (HiGHS through its own Python binding; ~5x less call overhead)
# when importable, else "linprog" (scipy.optimize.linprog(method="highs"), the same
# solver).  Both are exercised by the tests; set this to force one.
try:
    import highspy as _highspy
    LP_BACKEND = "highspy"
except ImportError:  # pragma: no cover
    _highspy = None
    LP_BACKEND = "linprog"


def _solve_lp(obj, A, b, lb, ub):
    """min obj.x s.t. A x <= b, lb <= x <= ub.  Returns ("optimal", x, fun),
    ("infeasible", None, None) or raises RuntimeError."""
    if LP_BACKEND == "linprog":
        res = linprog(obj, A_ub=A if len(b) else None, b_ub=b if len(b) else None,
                      bounds=list(zip([None if np.isinf(v) else v for v in lb],
                                      [None if np.isinf(v) else v for v in ub])),
                      method="highs", options=_LP_OPTIONS)
        if res.status == 0:
            return "optimal", np.asarray(res.x, dtype=np.float64), float(res.fun)
        if res.status == 2:
            return "infeasible", None, None
        raise RuntimeError(f"LP failed: status {res.status}: {res.message}")
    h = _highspy.Highs()
    h.setOptionValue("output_flag", False)
    for k, v in _LP_OPTIONS.items():
        h.setOptionValue(k, v)
    m, nv = A.shape
    lp = _highspy.HighsLp()
    lp.num_col_ = nv
    lp.num_row_ = m
    lp.col_cost_ = np.asarray(obj, dtype=np.float64)
    lp.col_lower_ = np.asarray(lb, dtype=np.float64)
    lp.col_upper_ = np.asarray(ub, dtype=np.float64)
    lp.row_lower_ = np.full(m, -np.inf)
    lp.row_upper_ = np.asarray(b, dtype=np.float64)
    lp.a_matrix_.format_ = _highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = (np.arange(nv + 1) * m).astype(np.int32)
    lp.a_matrix_.index_ = np.tile(np.arange(m, dtype=np.int32), nv)
    lp.a_matrix_.value_ = np.asarray(A, dtype=np.float64).T.ravel()  # dense, column-wise
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if status == _highspy.HighsModelStatus.kOptimal:
        x = np.array(h.getSolution().col_value, dtype=np.float64)
        return "optimal", x, float(h.getInfo().objective_function_value)
    if status == _highspy.HighsModelStatus.kInfeasible:
        return "infeasible", None, None
    raise RuntimeError(f"LP failed: {h.modelStatusToString(status)}")


class AmbiguousRegion(RuntimeError):
    """The LP says the max margin is (barely) above MARGIN_TOL but no point could be
    certified: the region's inradius is within LP tolerance of MARGIN_TOL."""


# ----------------------------------------------------------------------------- inputs

def _norm_arg(p):
    """1, 2 or np.inf from 1 / 2 / inf / "1" / "2" / "inf"."""
    if isinstance(p, str):
        s = p.strip().lower()
        p = {"1": 1, "2": 2, "inf": np.inf, "infinity": np.inf}.get(s, s)
    if isinstance(p, str):
        raise ValueError(f"norm must be 1, 2 or inf, got {p!r}")
    if p == 1:
        return 1
    if p == 2:
        return 2
    if p == np.inf:
        return np.inf
    raise ValueError(f"norm must be 1, 2 or inf, got {p!r}")


def _dual(p):
    return {1: np.inf, 2: 2, np.inf: 1}[_norm_arg(p)]


def load_npz(path):
    """Read arrays ``W0, b0, W1, b1, ...`` into (weights, biases) lists of float64."""
    weights, biases = [], []
    with np.load(path) as z:
        k = 0
        while f"W{k}" in z.files:
            weights.append(np.array(z[f"W{k}"], dtype=np.float64))
            biases.append(np.array(z[f"b{k}"], dtype=np.float64).reshape(-1))
            k += 1
    if not weights:
        raise ValueError(f"{path}: no array W0")
    return weights, biases


def _check_net(weights, biases):
    weights = [np.atleast_2d(np.asarray(W, dtype=np.float64)) for W in weights]
    biases = [np.asarray(b, dtype=np.float64).reshape(-1) for b in biases]
    if not weights or len(weights) != len(biases):
        raise ValueError("need at least one layer and as many biases as weights")
    for k, (W, b) in enumerate(zip(weights, biases)):
        if W.shape[0] != b.shape[0]:
            raise ValueError(f"layer {k}: W shape {W.shape} vs b shape {b.shape}")
        if k and W.shape[1] != weights[k - 1].shape[0]:
            raise ValueError(f"layer {k}: input size {W.shape[1]} != {weights[k - 1].shape[0]}")
    return weights, biases


def _output_vector(c, m):
    """None -> None; integer k -> e_k; array -> float64 vector of length m."""
    if c is None:
        return None
    if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
        if not 0 <= c < m:
            raise ValueError(f"output index {c} out of range for {m} outputs")
        e = np.zeros(m)
        e[c] = 1.0
        return e
    c = np.asarray(c, dtype=np.float64).reshape(-1)
    if c.shape[0] != m:
        raise ValueError(f"output weight vector has length {c.shape[0]}, expected {m}")
    return c


def _parse_domain(domain, n):
    """Validate and normalise a domain tuple for input size n."""
    if isinstance(domain, str):
        domain = (domain,)
    kind = domain[0]
    if kind == "global":
        return ("global",)
    if kind == "box":
        lo = np.broadcast_to(np.asarray(domain[1], dtype=np.float64), (n,)).copy()
        hi = np.broadcast_to(np.asarray(domain[2], dtype=np.float64), (n,)).copy()
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))) or np.any(hi < lo):
            raise ValueError("box needs finite lo <= hi")
        return ("box", lo, hi)
    if kind == "ball":
        center = np.broadcast_to(np.asarray(domain[1], dtype=np.float64), (n,)).copy()
        radius = float(domain[2])
        bn = _norm_arg(domain[3])
        if not np.isfinite(radius) or radius < 0:
            raise ValueError("ball radius must be finite and >= 0")
        return ("ball", center, radius, bn)
    raise ValueError(f"unknown domain {domain!r}")


class _Problem:
    """Network and domain restricted to the free input coordinates."""

    def __init__(self, weights, biases, domain):
        weights, biases = _check_net(weights, biases)
        self.n_full = weights[0].shape[1]
        dom = _parse_domain(domain, self.n_full)
        self.free = np.ones(self.n_full, dtype=bool)
        self.x_fixed = np.zeros(self.n_full)
        if dom[0] == "box":
            lo, hi = dom[1], dom[2]
            self.free = hi > lo
            if not np.all(self.free):
                fixed = ~self.free
                self.x_fixed[fixed] = lo[fixed]
                b0 = biases[0] + weights[0][:, fixed] @ lo[fixed]
                weights = [weights[0][:, self.free]] + weights[1:]
                biases = [b0] + biases[1:]
                dom = ("box", lo[self.free], hi[self.free])
        self.weights, self.biases, self.dom = weights, biases, dom
        self.n = int(self.free.sum())

    def lift(self, x):
        """Free-coordinate point -> full input vector."""
        full = self.x_fixed.copy()
        full[self.free] = x
        return full


# ----------------------------------------------------------------------------- the LP

class _MarginLP:
    """max s s.t. u_i.x + s <= v_i (neuron rows), the s-ball around x lies in X, s <= 1.

    Variables: [x (n), s] plus, for an l1 ball, t (n) with t >= |x - c|.
    """

    def __init__(self, dom, n):
        self.dom, self.n = dom, n
        kind = dom[0]
        self.l1 = kind == "ball" and dom[3] == 1
        self.l2 = kind == "ball" and dom[3] == 2
        self.nv = n + 1 + (n if self.l1 else 0)
        rows, rhs = [], []
        I = np.eye(n)

        def add(xpart, spart, tpart, b):
            r = np.zeros((xpart.shape[0], self.nv))
            r[:, :n] = xpart
            r[:, n] = spart
            if tpart is not None:
                r[:, n + 1:] = tpart
            rows.append(r)
            rhs.append(np.asarray(b, dtype=np.float64).reshape(-1))

        if kind == "box":
            lo, hi = dom[1], dom[2]
            add(-I, 1.0, None, -lo)           # lo + s <= x
            add(I, 1.0, None, hi)             # x + s <= hi
        elif kind == "ball":
            c, r, bn = dom[1], dom[2], dom[3]
            if bn == np.inf or bn == 2:
                # |x_i - c_i| + s <= r  (exact for inf; an outer relaxation for 2)
                add(I, 1.0, None, c + r)
                add(-I, 1.0, None, r - c)
            else:  # l1: t >= |x - c|, sum t + sqrt(n) s <= r
                add(I, 0.0, -I, c)
                add(-I, 0.0, -I, -c)
                add(np.zeros((1, n)), math.sqrt(n), np.ones((1, n)), [r])
        self.base_A = np.vstack(rows) if rows else np.zeros((0, self.nv))
        self.base_b = np.concatenate(rhs) if rhs else np.zeros(0)
        self.cuts_A = np.zeros((0, self.nv))  # Euclidean-ball cuts, valid everywhere
        self.cuts_b = np.zeros(0)
        # bounds: x free, -inf < s <= 1, t >= 0
        self.lb = np.array([-np.inf] * (n + 1) + [0.0] * (self.nv - n - 1))
        self.ub = np.array([np.inf] * n + [1.0] + [np.inf] * (self.nv - n - 1))
        self.n_solves = 0

    def domain_slack(self, x):
        """Largest rho such that the Euclidean rho-ball around x lies in X (capped at 1)."""
        kind = self.dom[0]
        if kind == "global":
            return 1.0
        if kind == "box":
            lo, hi = self.dom[1], self.dom[2]
            return float(min(1.0, np.min(x - lo, initial=np.inf), np.min(hi - x, initial=np.inf)))
        c, r, bn = self.dom[1], self.dom[2], self.dom[3]
        d = x - c
        if bn == np.inf:
            return float(min(1.0, r - np.max(np.abs(d), initial=0.0)))
        if bn == 2:
            return float(min(1.0, r - np.linalg.norm(d)))
        return float(min(1.0, (r - np.sum(np.abs(d))) / math.sqrt(max(self.n, 1))))

    def domain_max(self, u):
        """max over x in X of u.x (a relaxation used to prune without an LP)."""
        kind = self.dom[0]
        if kind == "global":
            return 0.0 if not np.any(u) else np.inf
        if kind == "box":
            lo, hi = self.dom[1], self.dom[2]
            return float(np.sum(np.maximum(u * lo, u * hi)))
        c, r, bn = self.dom[1], self.dom[2], self.dom[3]
        return float(u @ c + r * np.linalg.norm(u, ord=_dual(bn)))

    @staticmethod
    def rows_slack(x, U, V):
        """min_i (v_i - u_i.x): the certified margin w.r.t. the neuron rows."""
        if len(V) == 0:
            return np.inf
        return float(np.min(V - U @ x))

    def certified_margin(self, x, U, V):
        return min(self.domain_slack(x), self.rows_slack(x, U, V))

    def solve(self, U, V):
        """Return (x, margin) with a certified margin > MARGIN_TOL, or None if the LP
        maximum margin is <= MARGIN_TOL."""
        n = self.n
        neuron_A = np.zeros((len(V), self.nv))
        if len(V):
            neuron_A[:, :n] = U
            neuron_A[:, n] = 1.0
        obj = np.zeros(self.nv)
        obj[n] = -1.0
        for _ in range(MAX_CUTS):
            A = np.vstack([self.base_A, self.cuts_A, neuron_A])
            b = np.concatenate([self.base_b, self.cuts_b, np.asarray(V, dtype=np.float64)])
            self.n_solves += 1
            status, sol, fun = _solve_lp(obj, A, b, self.lb, self.ub)
            if status == "infeasible":  # cannot really happen: s is free below
                return None
            s_lp = -fun
            if s_lp <= MARGIN_TOL:
                return None
            x = sol[:n]
            m = self.certified_margin(x, U, V)
            if m > MARGIN_TOL:
                return x, m
            if self.l2:
                c, r = self.dom[1], self.dom[2]
                d = x - c
                nd = np.linalg.norm(d)
                if nd + s_lp > r + 1e-12 and nd > 0:
                    cut = np.zeros((1, self.nv))
                    cut[0, :n] = d / nd
                    cut[0, n] = 1.0
                    self.cuts_A = np.vstack([self.cuts_A, cut])
                    self.cuts_b = np.append(self.cuts_b, r + d @ c / nd)
                    continue
            raise AmbiguousRegion(
                f"LP margin {s_lp:.3e} > {MARGIN_TOL:.0e} but certified margin {m:.3e}")
        raise RuntimeError("cutting-plane loop for the Euclidean ball did not converge")


# ----------------------------------------------------------------------------- regions

def _enumerate(prob):
    """Yield (pattern, J_reduced, x_reduced, margin) for every full-dimensional region."""
    Ws, bs = prob.weights, prob.biases
    n_hidden = len(Ws) - 1
    n = prob.n
    if n == 0:
        return  # the domain is a single point: no direction, L = 0
    lp = _MarginLP(prob.dom, n)
    root = lp.solve(np.zeros((0, n)), np.zeros(0))
    if root is None:
        return  # domain too thin (inradius <= MARGIN_TOL)
    pattern = [np.zeros(W.shape[0], dtype=bool) for W in Ws[:-1]]
    U, V = [], []  # decided neuron rows: u.x + s <= v  <=>  sigma z(x)/||grad|| >= s

    def rec(k, j, H, Z, z0, x, s):
        # H: Jacobian of x_{k-1} w.r.t. x; Z, z0: pre-activation of layer k = Z x + z0.
        if k == n_hidden:
            yield tuple(g.copy() for g in pattern), Ws[-1] @ H, x, s
            return
        if j == Z.shape[0]:
            g = pattern[k]
            Hn = Z * g[:, None]
            hn = z0 * g
            Zn = Ws[k + 1] @ Hn
            z0n = Ws[k + 1] @ hn + bs[k + 1]
            yield from rec(k + 1, 0, Hn, Zn, z0n, x, s)
            return
        a, a0 = Z[j], z0[j]
        nu = float(np.linalg.norm(a))
        bound = float(np.linalg.norm(Ws[k][j])) * float(np.linalg.norm(H))
        if nu <= ZERO_GRAD_RTOL * bound:
            # constant neuron: its pattern does not change J; no branching
            pattern[k][j] = a0 > 0
            yield from rec(k, j + 1, H, Z, z0, x, s)
            return
        u, v = a / nu, a0 / nu  # signed distance of x to the hyperplane: u.x + v
        dist = float(u @ x + v)
        first = 1 if dist > 0 else -1
        for sigma in (first, -first):
            # sigma (u.x + v) >= s   <=>   (-sigma u).x + s <= sigma v
            U.append(-sigma * u)
            V.append(sigma * v)
            if sigma * dist > MARGIN_TOL and s > MARGIN_TOL:
                child = (x, min(s, sigma * dist))   # the parent's point still certifies
            elif sigma * v + lp.domain_max(sigma * u) <= MARGIN_TOL:
                child = None  # sigma z_j <= MARGIN_TOL ||grad|| on all of X: empty
            else:
                child = lp.solve(np.array(U), np.array(V))
            if child is not None:
                pattern[k][j] = sigma > 0
                yield from rec(k, j + 1, H, Z, z0, child[0], child[1])
            U.pop()
            V.pop()
        pattern[k][j] = False

    H0 = np.eye(n)
    yield from rec(0, 0, H0, Ws[0], bs[0], root[0], root[1])


def regions(weights, biases, domain):
    """Yield ``(pattern, x, margin)`` for every activation pattern whose region has a
    non-empty interior in the domain.

    pattern: tuple of bool arrays, one per hidden layer (True = active).  Neurons whose
    pre-activation is constant on the region (zero gradient) get ``constant > 0``.
    x: a full-length input point in the domain; the Euclidean ball of radius ``margin``
    (> MARGIN_TOL) around x, within the domain's affine hull, lies in the closure of the
    region and in the domain (so x is an interior point with that pattern).
    """
    prob = _Problem(weights, biases, domain)
    for pattern, _J, x, s in _enumerate(prob):
        yield pattern, prob.lift(x), s


def region_jacobians(weights, biases, domain, c=None):
    """Yield ``(pattern, J)`` per full-dimensional region; J restricted to the free
    coordinates (shape (m, n_free), or (1, n_free) for a scalar output c)."""
    prob = _Problem(weights, biases, domain)
    cv = _output_vector(c, prob.weights[-1].shape[0])
    for pattern, J, _x, _s in _enumerate(prob):
        yield pattern, (J if cv is None else (cv @ J)[None, :])


def exact_lipschitz(weights, biases, domain, p, q, c=None):
    """Exact L(p, q, X): max of ||J(g)||_{p->q} (or ||J(g)^T c||_{p*}) over the
    full-dimensional regions in the domain; 0.0 if there are none (point domain)."""
    p, q = _norm_arg(p), _norm_arg(q)
    best = 0.0
    for _pattern, J in region_jacobians(weights, biases, domain, c):
        val = dual_norm(J[0], p) if c is not None else exact_opnorm(J, p, q)
        best = max(best, val)
    return float(best)


# ----------------------------------------------------------------------------- norms

def dual_norm(v, p):
    """||v||_{p*}: the norm of a gradient row for input norm p."""
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if v.size == 0:
        return 0.0
    return float(np.linalg.norm(v, ord=_dual(p)))


def _max_over_signs(M, q):
    """max over s in {-1, 1}^d of ||M s||_q, M of shape (r, d); by enumeration."""
    d = M.shape[1]
    if d == 0 or M.shape[0] == 0:
        return 0.0
    if d > MAX_ENUM_DIM:
        raise ValueError(f"sign enumeration over {d} > {MAX_ENUM_DIM} coordinates")
    total = 1 << (d - 1)  # s and -s give the same norm: fix s_0 = +1
    best = 0.0
    chunk = 1 << 14
    shifts = np.arange(d - 1)
    for start in range(0, total, chunk):
        idx = np.arange(start, min(total, start + chunk))
        bits = (idx[:, None] >> shifts) & 1
        S = np.hstack([np.ones((len(idx), 1)), 1.0 - 2.0 * bits])
        best = max(best, float(np.max(np.linalg.norm(S @ M.T, ord=q, axis=1))))
    return best


def exact_opnorm(J, p, q):
    """Exact induced norm ||J||_{p->q} = max_{||v||_p <= 1} ||J v||_q, p, q in {1,2,inf}.

    Closed forms for p = 1 (max column q-norm), q = inf (max row p*-norm) and 2->2
    (largest singular value); sign-vector enumeration for inf->1, inf->2 and 2->1.
    """
    p, q = _norm_arg(p), _norm_arg(q)
    J = np.atleast_2d(np.asarray(J, dtype=np.float64))
    m, n = J.shape
    if m == 0 or n == 0:
        return 0.0
    if p == 1:
        return float(np.max(np.linalg.norm(J, ord=q, axis=0)))
    if q == np.inf:
        return float(np.max(np.linalg.norm(J, ord=_dual(p), axis=1)))
    if p == 2 and q == 2:
        return float(np.linalg.norm(J, 2))
    if m == 1:
        return dual_norm(J[0], p)
    if p == np.inf and q == 1:
        # ||J||_{inf->1} = max_s ||J s||_1 = max_t ||J^T t||_1 (enumerate the smaller side)
        return _max_over_signs(J, 1) if n <= m else _max_over_signs(J.T, 1)
    if p == np.inf and q == 2:
        return _max_over_signs(J, 2)          # max over vertices of the inf-ball
    if p == 2 and q == 1:
        return _max_over_signs(J.T, 2)        # ||J||_{2->1} = max_t ||J^T t||_2
    raise AssertionError("unreachable")


# ----------------------------------------------------------------------------- sampling

def forward_pattern(weights, biases, x):
    """Activation pattern(s) at x (shape (n,) or (N, n)): list of bool arrays (z > 0)."""
    weights, biases = _check_net(weights, biases)
    h = np.asarray(x, dtype=np.float64)
    pats = []
    for W, b in zip(weights[:-1], biases[:-1]):
        z = h @ W.T + b
        g = z > 0
        pats.append(g)
        h = np.where(g, z, 0.0)
    return pats


def jacobian(weights, pattern, c=None):
    """J(g) = W_L diag(g_{L-1}) ... diag(g_1) W_1 in full input coordinates;
    with c, the row c^T J(g) of shape (1, n)."""
    weights = [np.atleast_2d(np.asarray(W, dtype=np.float64)) for W in weights]
    J = weights[0]
    for W, g in zip(weights[1:], pattern):
        J = W @ (J * np.asarray(g, dtype=np.float64)[:, None])
    cv = _output_vector(c, weights[-1].shape[0])
    return J if cv is None else (cv @ J)[None, :]


def sample_domain(domain, n_in, n, rng):
    """n points of the domain (uniform for box / balls; multi-scale Gaussian for global)."""
    dom = _parse_domain(domain, n_in)
    if dom[0] == "box":
        lo, hi = dom[1], dom[2]
        return lo + (hi - lo) * rng.random((n, n_in))
    if dom[0] == "global":
        scale = 10.0 ** rng.uniform(-2, 3, size=(n, 1))
        return scale * rng.standard_normal((n, n_in))
    c, r, bn = dom[1], dom[2], dom[3]
    if bn == np.inf:
        u = rng.uniform(-1, 1, size=(n, n_in))
    elif bn == 2:
        d = rng.standard_normal((n, n_in))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        u = d * rng.random((n, 1)) ** (1.0 / n_in)
    else:  # uniform in the cross-polytope
        e = rng.exponential(size=(n, n_in + 1))
        u = e[:, :n_in] / e.sum(axis=1, keepdims=True)
        u *= rng.choice([-1.0, 1.0], size=(n, n_in))
    return c + r * u


def in_domain(x, domain, tol=0.0):
    """Whether the point x lies in the domain tuple, up to tol (per coordinate for a box, in the ball's norm)."""
    if domain[0] == "global":
        return True
    x = np.asarray(x, dtype=np.float64)
    if domain[0] == "box":
        return bool(np.all(x >= np.asarray(domain[1]) - tol) and np.all(x <= np.asarray(domain[2]) + tol))
    return bool(np.linalg.norm(x - np.asarray(domain[1]), ord=domain[3]) <= domain[2] + tol)


def sampled_lower(weights, biases, domain, p, q, c=None, n=2000, seed=0):
    """Sampling lower bound: max of the Jacobian norm over the patterns seen at n random
    points of the domain (almost surely interior points of their regions).  Zero-width
    box coordinates are dropped from J, as in exact_lipschitz."""
    p, q = _norm_arg(p), _norm_arg(q)
    weights, biases = _check_net(weights, biases)
    n_in = weights[0].shape[1]
    dom = _parse_domain(domain, n_in)
    free = (dom[2] > dom[1]) if dom[0] == "box" else np.ones(n_in, dtype=bool)
    if not np.any(free) or (dom[0] == "ball" and dom[2] == 0):
        return 0.0
    rng = np.random.default_rng(seed)
    X = sample_domain(domain, n_in, n, rng)
    pats = forward_pattern(weights, biases, X)
    if pats:
        allp = np.hstack(pats)
        uniq = np.unique(allp, axis=0)
    else:
        uniq = np.zeros((1, 0), dtype=bool)
    sizes = [W.shape[0] for W in weights[:-1]]
    best = 0.0
    for row in uniq:
        pattern, o = [], 0
        for s in sizes:
            pattern.append(row[o:o + s])
            o += s
        J = jacobian(weights, pattern, c)[:, free]
        val = dual_norm(J[0], p) if c is not None else exact_opnorm(J, p, q)
        best = max(best, val)
    return float(best)
