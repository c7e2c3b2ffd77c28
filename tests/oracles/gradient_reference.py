"""Plain-numpy reference of the gradient-bound engine (cpp/gradient_*.cpp, cpp/sound_*.cpp) with no slope
optimisation: CROWN forward bounds, CROWN bounds through the backward graph with the engine's starting
relaxations (adaptive relu slopes, Heaviside slopes tau, the McCormick mix cancelling d), the norm objective
by secants, and the combinations over output rows.  No rounding allowances: the C++ core must agree to about
1e-9 relative.  Written independently of the C++ (dense matrices, one function per relaxation); test-only.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .bruteforce import exact_opnorm

INF = math.inf
# Bounds computed here without rounding allowances can cross by rounding where the exact ones touch (a
# constant neuron or coordinate): only a crossing beyond this relative margin proves emptiness.
CROSSING_RTOL = 1e-9


def _crossing(lo, hi):
    return bool(np.any(lo > hi + CROSSING_RTOL * (np.abs(lo) + np.abs(hi)) + 1e-300))


class Empty(Exception):
    """The partial pattern contradicts the domain (some certified bounds cross)."""


def _dual(p):
    return {1.0: INF, 2.0: 2.0, INF: 1.0}[p]


class Domain:
    """Box [lo, hi], optionally intersected with the ball ||x - center||_norm <= radius."""

    def __init__(self, lo, hi, center=None, radius=0.0, norm=INF):
        self.lo, self.hi = np.asarray(lo, float), np.asarray(hi, float)
        self.center, self.radius, self.norm = center, radius, norm
        if center is not None:
            self.lo = np.maximum(self.lo, center - radius)
            self.hi = np.minimum(self.hi, center + radius)

    def maximum(self, A, c):
        """max over the set of A x + c, row by row (box hull and ball, the smaller)."""
        val = c + np.maximum(A * self.lo, A * self.hi).sum(axis=1)
        if self.center is not None:
            val = np.minimum(val, c + A @ self.center + self.radius * np.linalg.norm(A, ord=_dual(self.norm), axis=1))
        return val


def _relu_lines(l, u, status):
    """(su, tu, sl) per neuron: identity / zero when stable, secant and adaptive slope when free."""
    su, tu, sl = np.zeros_like(l), np.zeros_like(l), np.zeros_like(l)
    on, free = status == 1, status == 2
    su[on] = sl[on] = 1.0
    su[free] = u[free] / (u[free] - l[free])
    tu[free] = -su[free] * l[free]
    sl[free] = (u[free] > -l[free]).astype(float)
    return su, tu, sl


class Forward:
    """Forward CROWN bounds of every hidden layer, with a partial pattern."""

    def __init__(self, W, b, dom, states=None):
        self.W, self.b, self.dom = W, b, dom
        self.lo, self.hi, self.status, self.lines = [], [], [], []
        xl, xh = dom.lo, dom.hi
        for k in range(len(W) - 1):
            Wp, Wn = np.maximum(W[k], 0), np.minimum(W[k], 0)
            l, u = Wp @ xl + Wn @ xh + b[k], Wp @ xh + Wn @ xl + b[k]
            rows = np.arange(len(l)) if k == 0 else np.flatnonzero((l < 0) & (u > 0))
            if rows.size:
                A, c = W[k][rows], b[k][rows]
                u[rows] = np.minimum(u[rows], dom.maximum(*self.to_input(A, c, k)))
                l[rows] = np.maximum(l[rows], -dom.maximum(*self.to_input(-A, -c, k)))
            if states is not None:
                u = np.where(states[k] == 0, np.minimum(u, 0), u)
                l = np.where(states[k] == 1, np.maximum(l, 0), l)
            if _crossing(l, u):
                raise Empty
            l, u = np.minimum(l, u), np.maximum(l, u)
            status = np.where(u <= 0, 0, np.where(l >= 0, 1, 2))
            if states is not None:  # a forced sign keeps its derivative (also where the bounds are [0, 0])
                status = np.where(states[k] == 0, 0, np.where(states[k] == 1, 1, status))
            self.lo.append(l), self.hi.append(u), self.status.append(status)
            self.lines.append(_relu_lines(l, u, status))
            xl, xh = np.where(status == 0, 0.0, np.maximum(l, 0)), np.where(status == 0, 0.0, u)

    def to_input(self, A, c, j, phi=None):
        """Forms A x_j + c (x_j the output of hidden layer j, x_0 the input) -> forms over the input; phi[i]
        (forms over z_i) is added when the substitution reaches z_i."""
        A, c = A.copy(), np.asarray(c, float).copy()
        for i in range(j, 0, -1):
            su, tu, sl = self.lines[i - 1]
            c = c + np.where(A >= 0, A * tu, 0.0).sum(axis=1)
            A = np.where(A >= 0, A * su, A * sl)
            if phi is not None and i in phi:
                A = A + phi[i]
            c = c + A @ self.b[i - 1]
            A = A @ self.W[i - 1]
        return A, c


def _vertex(a, cd, ul, uh, upper):
    """max (upper) or min of d u - a u - cd d over d in {0, 1}, u in {ul, uh}."""
    vals = np.stack([-a * ul, -a * uh, ul - a * ul - cd, uh - a * uh - cd])
    return vals.max(axis=0) if upper else vals.min(axis=0)


class Backward:
    """CROWN bounds through the backward graph of one output row w (u_{L-1} = w)."""

    def __init__(self, fwd, w, n_dir, tau):
        self.f, self.w, self.tau = fwd, w, tau
        W, L1 = fwd.W, len(fwd.W) - 1
        self.u = {L1: (w.copy(), w.copy())}
        for k in range(L1 - 1, -1, -1):
            ul, uh = self.u[k + 1]
            st = fwd.status[k]
            vl = np.where(st == 1, ul, np.where(st == 2, np.minimum(ul, 0), 0.0))
            vh = np.where(st == 1, uh, np.where(st == 2, np.maximum(uh, 0), 0.0))
            M = W[k].T if k >= 1 else W[0].T[:n_dir]
            Mp, Mn = np.maximum(M, 0), np.minimum(M, 0)
            lo, hi = Mp @ vl + Mn @ vh, Mp @ vh + Mn @ vl
            rows = np.flatnonzero(fwd.status[k - 1] == 2) if k >= 1 else np.arange(n_dir)
            if rows.size:
                R = M[rows]
                hi[rows] = np.minimum(hi[rows], self.values(R, k + 1))
                lo[rows] = np.maximum(lo[rows], -self.values(-R, k + 1))
            self.u[k] = (lo, hi)

    def values(self, A, level):
        """Upper values of the forms A v_level."""
        f, W, L1 = self.f, self.f.W, len(self.f.W) - 1
        c = np.zeros(A.shape[0])
        phi = {}
        for k in range(level, L1 + 1):
            st, l, u = f.status[k - 1], f.lo[k - 1], f.hi[k - 1]
            ul, uh = self.u[k]
            beta = np.clip(np.divide(uh, uh - ul, out=np.ones_like(uh), where=uh > ul), 0, 1)
            au = np.where(st == 1, 1.0, np.where(st == 2, beta, 0.0))
            al = np.where(st == 1, 1.0, np.where(st == 2, 1 - beta, 0.0))
            cd = np.where(st == 2, beta * ul + (1 - beta) * uh, 0.0)
            eu = np.where(st == 2, _vertex(beta, cd, ul, uh, True), 0.0)
            el = np.where(st == 2, _vertex(1 - beta, cd, ul, uh, False), 0.0)
            pos = A >= 0
            Au = np.where(pos, A * au, A * al)
            Ad = A * cd
            c = c + np.where(pos, A * eu, A * el).sum(axis=1)
            # Heaviside: constants 1 (active), lines with tau on free neurons
            free = st == 2
            su = np.where(free, self.tau / np.where(free, -l, 1.0), 0.0)
            tu = np.where(free, np.maximum(1.0, su * -l), np.where(st == 1, 1.0, 0.0))
            sl = np.where(free, self.tau / np.where(free, u, 1.0), 0.0)
            tl = np.where(free, np.minimum(0.0, 1 - sl * u), np.where(st == 1, 1.0, 0.0))
            pd = Ad >= 0
            c = c + np.where(pd, Ad * tu, Ad * tl).sum(axis=1)
            phi[k] = np.where(pd, Ad * su, Ad * sl)
            if k == L1:
                wl, wh = self.u[L1]
                c = c + np.maximum(Au * wl, Au * wh).sum(axis=1)
                break
            A = Au @ W[k].T
        Phi = phi.pop(L1)
        A, c = f.to_input(Phi @ W[L1 - 1], c + Phi @ f.b[L1 - 1], L1 - 1, phi)
        return f.dom.maximum(A, c)


def _forward_interval_jacobian(fwd, n_dir):
    """[Pl, Ph] enclosing D_{L-1} W_{L-1} ... D_1 W_1[:, :n_dir] over the Clarke choices."""
    W = fwd.W
    lo = hi = W[0][:, :n_dir]
    for k in range(len(W) - 1):
        if k:
            Wp, Wn = np.maximum(W[k], 0), np.minimum(W[k], 0)
            lo, hi = Wp @ lo + Wn @ hi, Wp @ hi + Wn @ lo
        st = fwd.status[k][:, None]
        lo = np.where(st == 0, 0.0, np.where(st == 2, np.minimum(lo, 0), lo))
        hi = np.where(st == 0, 0.0, np.where(st == 2, np.maximum(hi, 0), hi))
    return lo, hi


def _norm_of_interval(gl, gu, p):
    return float(np.linalg.norm(np.maximum(np.abs(gl), np.abs(gu)), ord=_dual(p)))


def _secants(gl, gu, p):
    """(a, t): |g| <= a g + t (p = inf) or g^2 <= a g + t (p = 2) on [gl, gu]."""
    if p == INF:
        cross = (gl < 0) & (gu > 0)
        a = np.where(gl >= 0, 1.0, -1.0)
        a = np.where(cross, (gu + gl) / np.where(cross, gu - gl, 1.0), a)
        t = np.where(cross, np.maximum(-gl - a * gl, gu - a * gu), 0.0)
    else:
        a = gl + gu
        t = np.maximum(gl * gl - a * gl, gu * gu - a * gu)
    return a, t


def row_bound(fwd, w, p, n_dir, tau):
    """(bound on ||g||_{p*}, (gl, gu), backward u bounds) for u_{L-1} = w."""
    W, L1 = fwd.W, len(fwd.W) - 1
    if L1 == 0:
        g = (w[:n_dir].copy(), w[:n_dir].copy())
        return _norm_of_interval(*g, p), g, []
    B = Backward(fwd, w, n_dir, tau)
    Pl, Ph = _forward_interval_jacobian(fwd, n_dir)
    wp, wn = np.maximum(w, 0), np.minimum(w, 0)
    gl = np.maximum(B.u[0][0], wp @ Pl + wn @ Ph)
    gu = np.minimum(B.u[0][1], wp @ Ph + wn @ Pl)
    if any(_crossing(l, u) for l, u in list(B.u.values()) + [(gl, gu)]):
        raise Empty
    gl, gu = np.minimum(gl, gu), np.maximum(gl, gu)
    best = _norm_of_interval(gl, gu, p)
    if p != 1.0:
        a, t = _secants(gl, gu, p)
        val = B.values((a @ W[0].T[:n_dir])[None, :], 1)[0] + t.sum()
        best = min(best, val if p == INF else math.sqrt(max(val, 0.0)))
    return best, (gl, gu), [B.u[k] for k in range(1, L1 + 1)]


def _nonnegative_norm(A, p, q):
    """||A||_{p->q} for A >= 0 (closed forms; the spectral norm for 2 -> 2)."""
    if p == 1.0:
        return float(np.max(np.linalg.norm(A, ord=q, axis=0)))
    if q == INF:
        return float(np.max(np.linalg.norm(A, ord=_dual(p), axis=1)))
    if p == INF:
        return float(np.linalg.norm(A.sum(axis=1), ord=q))
    if q == 1.0:
        return float(np.linalg.norm(A.sum(axis=0)))
    return float(np.linalg.norm(A, 2))


def gradient_bound(W, b, lo, hi, p, q, states=None, center=None, radius=0.0, ball_norm=INF, n_dir=None, tau=0.0,
                   max_sign_outputs=4):
    """Reference of `_core.gradient_bounds(..., forward_iterations=0, coordinate_iterations=0, iterations=0,
    step_init=tau)`: {upper, empty, forward, rows: [{upper, gradient, backward}]}."""
    W = [np.asarray(x, float) for x in W]
    b = [np.zeros(x.shape[0]) for x in W] if b is None else [np.asarray(x, float) for x in b]
    n_dir = W[0].shape[1] if n_dir is None else n_dir
    dom = Domain(np.broadcast_to(lo, W[0].shape[1]), np.broadcast_to(hi, W[0].shape[1]), center, radius, ball_norm)
    try:
        fwd = Forward(W, b, dom, states)
        rows = [row_bound(fwd, W[-1][i], p, n_dir, tau) for i in range(W[-1].shape[0])]
    except Empty:
        return {"upper": 0.0, "empty": True}
    m = len(rows)
    U = np.array([r[0] for r in rows])
    Jl = np.array([r[1][0] for r in rows])
    Jh = np.array([r[1][1] for r in rows])
    upper = _nonnegative_norm(np.maximum(np.abs(Jl), np.abs(Jh)), p, q)
    if q == INF or m == 1:
        upper = min(upper, float(U.max()))
    else:
        if p != 1.0:
            mid, rad = (Jl + Jh) / 2, (Jh - Jl) / 2
            upper = min(upper, exact_opnorm(mid, p, q) + _nonnegative_norm(rad, p, q))
        q1 = float(U.sum())
        if m <= max_sign_outputs:
            signs = 0.0
            for s in itertools.product([1.0, -1.0], repeat=m - 1):
                try:  # a combination that proves the domain empty contributes nothing
                    signs = max(signs, row_bound(fwd, W[-1].T @ np.array((1.0,) + s), p, n_dir, tau)[0])
                except Empty:
                    pass
            q1 = min(q1, signs)
        upper = min(upper, q1)
        if q == 2.0:
            upper = min(upper, float(np.linalg.norm(U)))
    return {"upper": upper, "empty": False, "forward": list(zip(fwd.lo, fwd.hi)),
            "rows": [{"upper": r[0], "gradient": r[1], "backward": r[2]} for r in rows]}
