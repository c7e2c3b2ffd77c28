"""Plain-numpy reference implementations of the ``lipmiq._core`` kernels.

Same signatures and semantics as the C++ functions; they are the specification the C++ core is
tested against (agreement to 1e-9).  Written for readability, not speed.

Network convention: ``x_k = relu(W_k x_{k-1} + b_k)`` for hidden layers, ``f(x) = W_L x_{L-1} + b_L``,
``W_k`` of shape ``(out, in)``.  Pre-activations ``z_k = W_k x_{k-1} + b_k`` for k = 1..L.
"""
from __future__ import annotations

import numpy as np

__all__ = ["interval_bounds", "symbolic_bounds", "forward", "jacobians", "operator_norms", "pattern_norm_bound"]

_MASK64 = (1 << 64) - 1


# ----------------------------------------------------------------------------------- helpers
def _network(weights, biases=None):
    if len(weights) == 0:
        raise ValueError("weights must contain at least one layer")
    if biases is not None and len(weights) != len(biases):
        raise ValueError(f"got {len(weights)} weight matrices but {len(biases)} bias vectors")
    Ws, bs = [], []
    for k, W in enumerate(weights):
        W = np.ascontiguousarray(W, dtype=np.float64)
        if W.ndim != 2 or W.size == 0:
            raise ValueError(f"weights[{k}] has shape {W.shape}, expected a non-empty 2-D array (out, in)")
        if k > 0 and W.shape[1] != Ws[-1].shape[0]:
            raise ValueError(
                f"weights[{k}] has shape {W.shape} but weights[{k - 1}] has {Ws[-1].shape[0]} outputs: "
                f"expected ({W.shape[0]}, {Ws[-1].shape[0]})"
            )
        Ws.append(W)
        if biases is None:
            bs.append(np.zeros(W.shape[0]))
        else:
            bs.append(_vec(biases[k], W.shape[0], f"biases[{k}]", allow_scalar=False))
    return Ws, bs


def _vec(x, n, what, allow_scalar=True):
    a = np.asarray(x, dtype=np.float64)
    if allow_scalar and a.ndim == 0:
        return np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{what} has shape {a.shape}, expected ({n},)")
    return a.copy()


def _check_norm(p, what):
    p = float(p)
    if p not in (1.0, 2.0, np.inf):
        raise ValueError(f"{what} must be 1, 2 or inf, got {p}")
    return p


def _check_box(lo, hi):
    bad = ~(lo <= hi)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"empty box: lo[{i}] = {lo[i]} > hi[{i}] = {hi[i]}")
    bad = (lo == np.inf) | (hi == -np.inf)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"box bound is infinite on the wrong side in coordinate {i}: lo = {lo[i]}, hi = {hi[i]}")


def _affine_interval(W, b, xl, xu):
    """Bounds of W x + b over the box [xl, xu]; zero weights contribute 0 even against inf."""
    Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
    if np.all(np.isfinite(xl)) and np.all(np.isfinite(xu)):
        return b + Wp @ xl + Wn @ xu, b + Wp @ xu + Wn @ xl

    def dot(A, x):  # sum_i A[:, i] x[i] with 0 * inf := 0
        with np.errstate(invalid="ignore"):
            return np.where(A != 0, A * x[None, :], 0.0).sum(axis=1)

    return b + dot(Wp, xl) + dot(Wn, xu), b + dot(Wp, xu) + dot(Wn, xl)


def _relaxation(l, u):
    """ReLU relaxation per neuron: upper x <= su z + tu, lower x >= sl z."""
    su, tu, sl = np.zeros_like(l), np.zeros_like(l), np.zeros_like(l)
    active = l >= 0
    unstable = ~active & (u > 0)
    su[active] = 1.0
    sl[active] = 1.0
    s = u[unstable] / (u[unstable] - l[unstable])
    su[unstable] = s
    tu[unstable] = -s * l[unstable]
    sl[unstable] = (u[unstable] > -l[unstable]).astype(np.float64)
    return su, tu, sl


# ------------------------------------------------------------------------------------ bounds
def interval_bounds(weights, biases, lo, hi):
    """Interval bounds ``[(l_k, u_k)]`` of the pre-activations of layers k = 1..L over the box."""
    W, b = _network(weights, biases)
    n = W[0].shape[1]
    xl, xu = _vec(lo, n, "lo"), _vec(hi, n, "hi")
    _check_box(xl, xu)
    out = []
    for k in range(len(W)):
        l, u = _affine_interval(W[k], b[k], xl, xu)
        out.append((l, u))
        xl, xu = np.maximum(l, 0.0), np.maximum(u, 0.0)
    return out


def symbolic_bounds(weights, biases, lo, hi, center=None, radius=0.0, ball_norm=np.inf, prior=None):
    """DeepPoly/CROWN back-substitution bounds ``[(l_k, u_k)]`` for every layer k = 1..L.

    Input set: the box [lo, hi], intersected with the ball ||x - center||_ball_norm <= radius when
    ``center`` is given.  Each layer's linear upper/lower forms are substituted back to the input
    through the ReLU relaxations of all earlier layers (built from their final bounds), then
    concretised over the box hull of the input set and over the ball (the tighter value is kept),
    intersected with the interval step from the previous layer's final bounds and with
    ``prior[k]`` (a pair (l, u) or None), before the layer is relaxed.
    """
    W, b = _network(weights, biases)
    L, n = len(W), W[0].shape[1]
    lo, hi = _vec(lo, n, "lo"), _vec(hi, n, "hi")
    _check_box(lo, hi)
    hl, hu = lo.copy(), hi.copy()
    if center is not None:
        c = _vec(center, n, "center")
        radius = float(radius)
        if not (radius >= 0.0) or np.isinf(radius):
            raise ValueError(f"radius must be finite and >= 0, got {radius}")
        ball_norm = _check_norm(ball_norm, "ball_norm")
        hl, hu = np.maximum(hl, c - radius), np.minimum(hu, c + radius)
        if np.any(hl > hu):
            raise ValueError("empty input set: the ball around center misses the box")
        dual = {1.0: np.inf, 2.0: 2.0, np.inf: 1.0}[ball_norm]
    if not (np.all(np.isfinite(hl)) and np.all(np.isfinite(hu))):
        raise ValueError("symbolic_bounds needs a bounded input set (finite lo, hi or a ball)")
    if prior is not None and len(prior) != L:
        raise ValueError(f"prior has {len(prior)} entries, expected one per layer ({L})")

    def concretise(A, d, upper):
        Ap, An = np.maximum(A, 0.0), np.minimum(A, 0.0)
        box = d + (Ap @ hu + An @ hl if upper else Ap @ hl + An @ hu)
        if center is None:
            return box
        ctr = d + A @ c
        rad = radius * np.linalg.norm(A, ord=dual, axis=1)
        return np.minimum(box, ctr + rad) if upper else np.maximum(box, ctr - rad)

    out, relax = [], []
    xl, xu = hl, hu  # bounds of x_{k-1}
    for k in range(L):
        il, iu = _affine_interval(W[k], b[k], xl, xu)
        Au, Al = W[k], W[k]
        du, dl = b[k].copy(), b[k].copy()
        for j in range(k - 1, -1, -1):  # substitute x_j = relu(z_j), z_j = W[j] x_{j-1} + b[j]
            su, tu, sl = relax[j]
            Cu = np.where(Au >= 0, Au * su, Au * sl)  # upper form: upper line where coef >= 0
            Cl = np.where(Al >= 0, Al * sl, Al * su)  # lower form: lower line where coef >= 0
            du = du + np.maximum(Au, 0.0) @ tu + Cu @ b[j]
            dl = dl + np.minimum(Al, 0.0) @ tu + Cl @ b[j]
            Au, Al = Cu @ W[j], Cl @ W[j]
        u = np.minimum(concretise(Au, du, True), iu)
        l = np.maximum(concretise(Al, dl, False), il)
        if prior is not None and prior[k] is not None:
            nk = W[k].shape[0]
            l = np.maximum(l, _vec(prior[k][0], nk, f"prior[{k}][0]"))
            u = np.minimum(u, _vec(prior[k][1], nk, f"prior[{k}][1]"))
        out.append((l, u))
        if k < L - 1:
            relax.append(_relaxation(l, u))
            xl, xu = np.maximum(l, 0.0), np.maximum(u, 0.0)
    return out


# ---------------------------------------------------------------------- forward / jacobians
def forward(weights, biases, X):
    """Pre-activations ``[z_1, ..., z_L]``, each of shape (B, n_k), for inputs X of shape (B, n)."""
    W, b = _network(weights, biases)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != W[0].shape[1]:
        raise ValueError(f"X has shape {X.shape}, expected (B, {W[0].shape[1]})")
    out, x = [], X
    for k in range(len(W)):
        z = x @ W[k].T + b[k]
        out.append(z)
        x = np.maximum(z, 0.0)
    return out


def jacobians(weights, masks, batch=None):
    """Jacobians (B, m, n): ``W_L diag(g_{L-1}) W_{L-1} ... diag(g_1) W_1`` per mask row."""
    W, _ = _network(weights)
    L = len(W)
    if len(masks) != L - 1:
        raise ValueError(f"got {len(masks)} masks for a network with {L} layers: expected {L - 1}")
    G = []
    for k, g in enumerate(masks):
        g = np.asarray(g)
        if g.dtype.kind not in "biu":
            raise ValueError(f"masks[{k}] must be a bool or integer array, got dtype {g.dtype}")
        G.append(g != 0)
    B = batch if batch is not None else (G[0].shape[0] if G else None)
    if B is None:
        raise ValueError("batch must be given when masks is empty (one-layer network)")
    for k, g in enumerate(G):
        if g.shape != (B, W[k].shape[0]):
            raise ValueError(f"masks[{k}] has shape {g.shape}, expected ({B}, {W[k].shape[0]})")
    m = W[-1].shape[0]
    J = np.broadcast_to(W[-1], (B,) + W[-1].shape).copy()
    for k in range(L - 2, -1, -1):  # one (B*m, n_k) @ (n_k, n_{k-1}) product per layer
        J = ((J * G[k][:, None, :]).reshape(B * m, -1) @ W[k]).reshape(B, m, -1)
    return J


# --------------------------------------------------------------------------- operator norms
def _splitmix64(state):
    """One SplitMix64 step: returns (new_state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & _MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return state, z ^ (z >> 31)


def _sgn(x):
    """Sign with sign(0) = +1."""
    return np.where(x < 0, -1.0, 1.0)


def _vnorm(y, q):
    return float(np.linalg.norm(y, ord=q)) if y.size else 0.0


def _phi(y, two):
    return float(y @ y) if two else float(np.abs(y).sum())


def _enumerate_signs(M, two):
    """Maximise phi(M s) over s in {+-1}^d, s_0 = +1; first maximiser in Gray-code order."""
    d = M.shape[1]
    count = 1 << (d - 1)
    best, best_s = -np.inf, None
    chunk = 1 << 15
    for start in range(0, count, chunk):
        i = np.arange(start, min(count, start + chunk), dtype=np.int64)
        gray = i ^ (i >> 1)
        bits = (gray[:, None] >> np.arange(d - 1, dtype=np.int64)) & 1
        S = np.ones((len(i), d))
        S[:, 1:] = 1.0 - 2.0 * bits
        Y = S @ M.T
        vals = (Y * Y).sum(axis=1) if two else np.abs(Y).sum(axis=1)
        a = int(np.argmax(vals))
        if vals[a] > best:
            best, best_s = vals[a], S[a].copy()
    return best_s


def _ascend(M, two, s):
    """Alternating ascent s <- sign(M^T grad phi(M s)) while phi strictly increases."""
    y = M @ s
    val = _phi(y, two)
    for _ in range(100):
        g = y if two else _sgn(y)
        s2 = _sgn(M.T @ g)
        if np.array_equal(s2, s):
            break
        y2 = M @ s2
        v2 = _phi(y2, two)
        if not v2 > val:
            break
        s, y, val = s2, y2, v2
    return val, s


def _ascent_signs(M, two, restarts, seed):
    """Multi-start ascent: the sign of M's row with the largest 1-norm, then `restarts` random
    sign vectors from SplitMix64(seed) (s_j = -1 when the output's top bit is set)."""
    r, d = M.shape
    istar = int(np.argmax(np.abs(M).sum(axis=1)))
    best, best_s = _ascend(M, two, _sgn(M[istar]))
    state = seed & _MASK64
    for _ in range(restarts):
        s = np.empty(d)
        for j in range(d):
            state, z = _splitmix64(state)
            s[j] = -1.0 if z >> 63 else 1.0
        v, s = _ascend(M, two, s)
        if v > best:
            best, best_s = v, s
    return best_s


def _canonical(v):
    """Flip v so that its largest-magnitude entry (first among ties) is positive."""
    i = int(np.argmax(np.abs(v)))
    return -v if v[i] < 0 else v


def _one_norm(J, p, q, max_enum, restarts, seed):
    m, n = J.shape
    if not np.any(J):
        v = np.zeros(n)
        v[0] = 1.0
        return 0.0, v, True
    exact = True
    if p == 1.0:  # max column q-norm
        j = int(np.argmax(np.linalg.norm(J, ord=q, axis=0)))
        v = np.zeros(n)
        v[j] = 1.0
    elif q == np.inf:  # max row dual norm
        pstar = 2.0 if p == 2.0 else 1.0
        norms = np.linalg.norm(J, ord=pstar, axis=1)
        i = int(np.argmax(norms))
        v = J[i] / norms[i] if p == 2.0 else _sgn(J[i])
    elif p == 2.0 and q == 2.0:  # top right singular vector
        v = np.linalg.svd(J, full_matrices=False)[2][0]
    else:  # inf->2, inf->1, 2->1: maximise phi(M s) over sign vectors
        over_rows = p == 2.0 or (q == 1.0 and m < n)  # s indexes the rows of J
        two = q == 2.0 or p == 2.0
        M = J.T if over_rows else J
        d = M.shape[1]
        if d <= max_enum:
            s = _enumerate_signs(M, two)
        else:
            s = _ascent_signs(M, two, restarts, seed)
            exact = False
        if not over_rows:
            v = s
        else:
            jt = J.T @ s
            v = jt / np.linalg.norm(jt) if p == 2.0 else _sgn(jt)
    v = _canonical(np.asarray(v, dtype=np.float64))
    return _vnorm(J @ v, q) / _vnorm(v, p), v, exact


def operator_norms(J, p, q, max_enum=20, restarts=8, seed=0):
    """Per matrix of J (B, m, n): (norms (B,), V (B, n), exact (B,) bool).

    ``norms[b] = ||J_b V_b||_q / ||V_b||_p`` (an achieved value, a lower bound on
    ``||J_b||_{p->q}``); ``exact[b]`` when it is the operator norm.  p = 1 and q = inf are closed
    forms, p = q = 2 the top singular vector; inf->2, inf->1 and 2->1 enumerate sign vectors
    (Gray code, first sign fixed) when the enumerated dimension is <= max_enum, else run a
    deterministic multi-start alternating ascent (exact = False).
    """
    p, q = _check_norm(p, "p"), _check_norm(q, "q")
    if not 0 <= int(max_enum) <= 40:
        raise ValueError(f"max_enum must be in [0, 40], got {max_enum}")
    if int(restarts) < 0:
        raise ValueError(f"restarts must be >= 0, got {restarts}")
    J = np.asarray(J, dtype=np.float64)
    if J.ndim != 3 or J.shape[1] == 0 or J.shape[2] == 0:
        raise ValueError(f"J has shape {J.shape}, expected (B, m, n) with m, n >= 1")
    B, m, n = J.shape
    norms, V, exact = np.zeros(B), np.zeros((B, n)), np.zeros(B, dtype=bool)
    for k in range(B):
        norms[k], V[k], exact[k] = _one_norm(J[k], p, q, int(max_enum), int(restarts), int(seed))
    return norms, V, exact


def _interval_matmul(W, lo, hi):
    Wp, Wn = np.maximum(W, 0), np.minimum(W, 0)
    return Wp @ lo + Wn @ hi, Wp @ hi + Wn @ lo


def _nonnegative_norm(A, p, q):
    if p == 1.0:
        return float(np.max(np.linalg.norm(A, ord=q, axis=0)))
    if q == np.inf:
        return float(np.max(np.linalg.norm(A, ord=2.0 if p == 2.0 else 1.0, axis=1)))
    if p == np.inf:
        return float(np.linalg.norm(A.sum(axis=1), ord=q))
    if q == 1.0:
        return float(np.linalg.norm(A.sum(axis=0)))
    return float(np.linalg.norm(A, 2))


def pattern_norm_bound(weights, states, p, q):
    """Upper bound on ||W_L D_{L-1} ... D_1 W_1||_{p->q} over D_k = diag(g_k) with g_kj = states[k][j] where
    that is 0 or 1, in [0, 1] where it is -1: interval products, then the norm of max(|Ml|, |Mu|) (exact for a
    nonnegative matrix); with every neuron decided, min with the exact operator norm of J(g)."""
    p, q = _check_norm(p, "p"), _check_norm(q, "q")
    Ws = _network(weights)[0]
    if len(states) + 1 != len(Ws):
        raise ValueError(f"got {len(Ws)} weight matrices but {len(states)} state vectors")
    lo = hi = Ws[0]
    P = np.abs(Ws[0])  # |W_L| D ... |W_1|: scale of the rounding errors of the products
    decided = True
    for k, st in enumerate(states):
        st = np.asarray(st)
        if k > 0:
            lo, hi = _interval_matmul(Ws[k], lo, hi)
            P = np.abs(Ws[k]) @ P
        decided = decided and bool(np.all(st >= 0))
        on, off = (st == 1)[:, None], (st == 0)[:, None]
        lo = np.where(off, 0.0, np.where(on, lo, np.minimum(lo, 0.0)))
        hi = np.where(off, 0.0, np.where(on, hi, np.maximum(hi, 0.0)))
        P = np.where(off, 0.0, P)
    if states:
        lo, hi = _interval_matmul(Ws[-1], lo, hi)
        P = np.abs(Ws[-1]) @ P
    bound = _nonnegative_norm(np.maximum(np.abs(lo), np.abs(hi)), p, q)
    if decided:
        norms, _, exact = operator_norms(lo[None], p, q)
        if exact[0]:
            bound = min(bound, float(norms[0]))
    m, n = P.shape
    terms = sum(W.shape[1] for W in Ws[1:]) + n + m
    return bound + 2.0 * 2.0 ** -53 * terms * _nonnegative_norm(P, p, q)
