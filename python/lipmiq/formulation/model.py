"""SCIP models of the Lipschitz MIQCQP, built layer by layer from a Plan.

The closed problem (margin 0) and the strict problem (margin eps) share every builder; the
binary-times-continuous products g*z and g*w are either kept as bilinear equations ("quadratic",
the paper's MIQCQP) or linearised with the plan's bounds ("bigm").

Variables: x (input, in the plan's box), v (direction, ||v||_p <= 1), per hidden layer z (pre-activation),
a = g*z (post-activation), w = W u_prev (direction pre-activation), u = g*w; y = W_out u_last; and an
objective variable bounded by ||y||_q (squared for q = 2). Since (x, g, v) and (x, g, -v) are both
feasible with the same value, one sign symmetry is broken: in the objective for q in {1, inf} (max_i y_i,
or the sign of y_0 fixed), otherwise on v.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from pyscipopt import Model
from pyscipopt.scip import Expr, Term

from ..errors import check_deadline
from ..reductions.encode import HiddenLayer, Plan
from ..solvers.scip import new_model
from ..tolerances import SCIP_BOUND_ALLOWANCE

ENCODINGS = ("quadratic", "bigm")


def affine(coefs: Sequence[float], items: Sequence, const: float = 0.0) -> Expr:
    """sum coefs[i] * items[i] + const, where items are variables or linear expressions."""
    terms: Dict[Term, float] = {}
    for c, item in zip(coefs, items):
        if c == 0.0:
            continue
        if isinstance(item, Expr):
            for term, value in item.terms.items():
                terms[term] = terms.get(term, 0.0) + float(c) * value
        else:
            key = Term(item)
            terms[key] = terms.get(key, 0.0) + float(c)
    if const:
        terms[Term()] = terms.get(Term(), 0.0) + float(const)
    return Expr(terms)


def add_product(model: Model, g, y, lo: float, hi: float, encoding: str, name: str):
    """A variable r = g * y for binary g and y in [lo, hi]."""
    r = model.addVar(name=name, lb=min(lo, 0.0), ub=max(hi, 0.0))
    if encoding == "quadratic":
        model.addCons(r - g * y == 0, name=f"{name}_prod")
    else:
        model.addCons(r <= y - lo * (1 - g), name=f"{name}_m1")
        model.addCons(r >= y - hi * (1 - g), name=f"{name}_m2")
        model.addCons(r <= hi * g, name=f"{name}_m3")
        model.addCons(r >= lo * g, name=f"{name}_m4")
    return r


def add_region(model: Model, g, z, a, lo: float, hi: float, margin: float, encoding: str, name: str) -> None:
    """z >= margin where g = 1 and z <= -margin where g = 0 (margin 0: the closed region)."""
    if encoding == "quadratic":
        model.addCons(2 * a - z >= margin, name=f"{name}_region")  # a = g z: g=1 -> z, g=0 -> -z
    else:
        model.addCons(z >= margin * g + lo * (1 - g), name=f"{name}_on")
        model.addCons(z <= hi * g - margin * (1 - g), name=f"{name}_off")


def widen(lo: np.ndarray, hi: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """[lo, hi] widened by SCIP_BOUND_ALLOWANCE on SCIP's scale (max(|bound|, 1)): see its reason."""
    return lo - SCIP_BOUND_ALLOWANCE * np.maximum(np.abs(lo), 1.0), hi + SCIP_BOUND_ALLOWANCE * np.maximum(np.abs(hi), 1.0)


def widen_directions(plan: Plan) -> Plan:
    """The plan with its direction bounds (w per layer, y) widened for SCIP: an optimum attains them exactly
    (its direction is where |w| peaks), and SCIP's mixed tolerances then cut it (SCIP_BOUND_ALLOWANCE)."""
    layers = [replace(layer, **dict(zip(("wlo", "whi"), widen(layer.wlo, layer.whi)))) for layer in plan.layers]
    ylo, yhi = widen(plan.ylo, plan.yhi)
    return replace(plan, layers=layers, ylo=ylo, yhi=yhi)


def add_input(model: Model, plan: Plan) -> List:
    x = [model.addVar(name=f"x{i}", lb=float(lo), ub=float(hi)) for i, (lo, hi) in enumerate(zip(plan.x_lo, plan.x_hi))]
    if plan.ball is not None:
        center, radius, norm = plan.ball
        if norm == 2.0:
            model.addCons(sum((xi - float(c)) * (xi - float(c)) for xi, c in zip(x, center)) <= radius ** 2, name="ball")
        else:  # norm 1 (inf is the box itself)
            d = [model.addVar(name=f"ball_d{i}", lb=0.0, ub=radius) for i in range(len(x))]
            for di, xi, c in zip(d, x, center):
                model.addCons(di >= xi - float(c))
                model.addCons(di >= float(c) - xi)
            model.addCons(affine([1.0] * len(d), d) <= radius, name="ball")
    return x


def add_exclusion(model: Model, plan: Plan, x: List) -> List[Tuple[int, int, object]]:
    """||(x, t)||_inf >= delta by one binary per usable (coordinate, side); t has only its + side."""
    delta = plan.exclusion
    picks = []
    for i, (lo, hi) in enumerate(zip(plan.x_lo, plan.x_hi)):
        is_t = plan.homogenised and i == len(x) - 1
        if hi >= delta:
            e = model.addVar(name=f"excl_p{i}", vtype="B")
            model.addCons(x[i] >= delta * e + float(lo) * (1 - e))
            picks.append((i, 1, e))
        if lo <= -delta and not is_t:
            e = model.addVar(name=f"excl_n{i}", vtype="B")
            model.addCons(x[i] <= -delta * e + float(hi) * (1 - e))
            picks.append((i, -1, e))
    model.addCons(affine([1.0] * len(picks), [e for _, _, e in picks]) == 1, name="exclusion")
    return picks


def add_direction(model: Model, n: int, p: float, break_symmetry: bool, fixed: Optional[np.ndarray] = None):
    """v with ||v||_p <= 1 as expressions; vertices only for p in {1, inf} (the objective is convex in v).

    `fixed` pins v to constants (e.g. e_i for a Jacobian entry); then no variable is created.
    """
    if fixed is not None:
        return [Expr({Term(): float(c)}) if c else Expr({}) for c in np.asarray(fixed, dtype=np.float64)], {}
    if math.isinf(p):
        s = [model.addVar(name=f"vs{i}", vtype="B") for i in range(n)]
        if break_symmetry:
            model.chgVarLb(s[0], 1.0)
        return [affine([2.0], [si], -1.0) for si in s], {"sign": s}
    if p == 1.0:
        plus = [model.addVar(name=f"vp{i}", vtype="B") for i in range(n)]
        minus = [] if break_symmetry else [model.addVar(name=f"vm{i}", vtype="B") for i in range(n)]
        model.addCons(affine([1.0] * (len(plus) + len(minus)), plus + minus) == 1, name="v_vertex")
        if break_symmetry:
            return [affine([1.0], [vp]) for vp in plus], {"plus": plus}
        return [affine([1.0, -1.0], [vp, vm]) for vp, vm in zip(plus, minus)], {"plus": plus, "minus": minus}
    v = [model.addVar(name=f"v{i}", lb=-1.0, ub=1.0) for i in range(n)]
    if break_symmetry:
        model.chgVarLb(v[0], 0.0)
    model.addCons(sum(vi * vi for vi in v) <= 1.0, name="v_ball")
    return [affine([1.0], [vi]) for vi in v], {"v": v}


def add_hidden_layer(model: Model, k: int, layer: HiddenLayer, a_prev: List, u_prev: List,
                     margin: bool, encoding: str, deadline: float = math.inf):
    """One layer: z = W a_prev + b, w = W u_prev, and (a, u) = (z, w) or g * (z, w) with the region rows."""
    a_out, u_out, g_out = [], [], []
    for j in range(layer.W.shape[0]):
        check_deadline(deadline, "building the SCIP model")
        row = layer.W[j]
        nz = np.flatnonzero(row)
        name = f"l{k}n{j}"
        z = model.addVar(name=f"z_{name}", lb=float(layer.lo[j]), ub=float(layer.hi[j]))
        model.addCons(affine(row[nz], [a_prev[i] for i in nz], float(layer.b[j])) - z == 0, name=f"zdef_{name}")
        w = model.addVar(name=f"w_{name}", lb=float(layer.wlo[j]), ub=float(layer.whi[j]))
        model.addCons(affine(row[nz], [u_prev[i] for i in nz]) - w == 0, name=f"wdef_{name}")
        if layer.active[j]:
            a_out.append(z)
            u_out.append(w)
            g_out.append(None)
            continue
        g = model.addVar(name=f"g_{name}", vtype="B")
        a = add_product(model, g, z, float(layer.lo[j]), float(layer.hi[j]), encoding, f"a_{name}")
        add_region(model, g, z, a, float(layer.lo[j]), float(layer.hi[j]),
                   float(layer.eps[j]) if margin else 0.0, encoding, name)
        u = add_product(model, g, w, float(layer.wlo[j]), float(layer.whi[j]), encoding, f"u_{name}")
        a_out.append(a)
        u_out.append(u)
        g_out.append(g)
    for i, j, opposite in layer.ties:
        gi, gj = g_out[i], g_out[j]
        model.addCons(gi + gj == 1 if opposite else gi - gj == 0, name=f"tie_l{k}_{i}_{j}")
    return a_out, u_out, g_out


def add_objective(model: Model, y: List, ylo: np.ndarray, yhi: np.ndarray, q: float, encoding: str,
                  sign: Optional[float] = None):
    """A variable t <= ||y||_q (t <= ||y||_2^2 for q = 2), to be maximised; returns (t, choice binaries).

    `sign` (scalar y only) makes it the signed linear t <= sign * y_0 instead of a norm (may be negative).
    """
    m = len(y)
    if sign is not None:
        lo, hi = sorted((sign * float(ylo[0]), sign * float(yhi[0])))
        t = model.addVar(name="obj", lb=lo, ub=hi)
        model.addCons(t - sign * y[0] <= 0, name="obj_def")
        return t, {}
    big = np.maximum(np.abs(ylo), np.abs(yhi))
    if q == 2.0:
        t = model.addVar(name="obj", lb=0.0, ub=float(np.sum(big ** 2)))
        model.addCons(t <= sum(yi * yi for yi in y), name="obj_def")
        return t, {}
    if math.isinf(q) or m == 1:
        t = model.addVar(name="obj", lb=0.0, ub=float(np.max(yhi)) if m else 0.0)
        if m == 1:
            model.addCons(t <= y[0], name="obj_def")
            return t, {}
        sel = [model.addVar(name=f"osel{i}", vtype="B") for i in range(m)]
        model.addCons(affine([1.0] * m, sel) == 1, name="obj_pick")
        if encoding == "quadratic":
            model.addCons(t <= sum(s * yi for s, yi in zip(sel, y)), name="obj_def")
        else:
            top = float(np.max(yhi))
            for i, (s, yi) in enumerate(zip(sel, y)):
                model.addCons(t <= yi + (top - float(ylo[i])) * (1 - s), name=f"obj_def{i}")
        return t, {"pick": sel}
    # q == 1: t <= y_0 + sum_{i>0} sigma_i y_i with sigma_i = 2 s_i - 1 (the sign of y_0 is fixed by symmetry)
    t = model.addVar(name="obj", lb=0.0, ub=float(np.sum(big)))
    s = [model.addVar(name=f"osign{i}", vtype="B") for i in range(1, m)]
    if encoding == "quadratic":
        model.addCons(t <= y[0] + sum((2 * si - 1) * yi for si, yi in zip(s, y[1:])), name="obj_def")
    else:
        r = []
        for i, (si, yi) in enumerate(zip(s, y[1:]), start=1):
            M = float(big[i])
            ri = model.addVar(name=f"oabs{i}", lb=-M, ub=M)
            model.addCons(ri <= yi + 2 * M * (1 - si))
            model.addCons(ri <= -yi + 2 * M * si)
            r.append(ri)
        model.addCons(t <= affine([1.0] * (len(r) + 1), [y[0]] + r), name="obj_def")
    return t, {"sign": s}


@dataclass
class Point:
    """A model solution in the plan's coordinates."""

    x: np.ndarray
    v: np.ndarray
    g: List[np.ndarray]   # per hidden layer, over kept neurons (stable ones filled in)


class Formulation:
    """The MIQCQP of a Plan for (p, q); `strict` puts the eps margin on every unstable neuron.

    Optional: `direction` fixes v (constants) and `sign` replaces the norm objective by sign * y_0 for a
    scalar output, so the model maximises one signed Jacobian entry (monotonicity); read its objective
    directly (to_norm clips at 0).
    """

    def __init__(self, plan: Plan, p: float, q: float, strict: bool, encoding: str = "quadratic",
                 direction: Optional[np.ndarray] = None, sign: Optional[float] = None, deadline: float = math.inf):
        if encoding not in ENCODINGS:
            from ..errors import InputError

            raise InputError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
        plan = widen_directions(plan)
        self.plan, self.p, self.q, self.strict, self.encoding = plan, p, q, strict, encoding
        self.deadline = deadline  # of the build, and of the propagator's engine calls
        self.squared = q == 2.0 and len(plan.ylo) > 1
        model = self.model = new_model("lipmiq-strict" if strict else "lipmiq-closed")
        self.x = add_input(model, plan)
        self.exclusion = add_exclusion(model, plan, self.x) if plan.exclusion is not None else []
        sym_in_objective = not self.squared
        self.v, self.v_vars = add_direction(model, plan.n_dir, p, break_symmetry=not sym_in_objective, fixed=direction)
        a_prev, u_prev = list(self.x), list(self.v) + [0.0] * (len(self.x) - plan.n_dir)
        u_prev = [u if isinstance(u, Expr) else Expr({}) for u in u_prev]
        self.g: List[List] = []
        for k, layer in enumerate(plan.layers):
            a_prev, u_prev, g = add_hidden_layer(model, k, layer, a_prev, u_prev, strict, encoding, deadline)
            self.g.append(g)
        self.y = []
        for i, row in enumerate(plan.W_out):
            yi = model.addVar(name=f"y{i}", lb=float(plan.ylo[i]), ub=float(plan.yhi[i]))
            nz = np.flatnonzero(row)
            model.addCons(affine(row[nz], [u_prev[j] for j in nz]) - yi == 0, name=f"ydef{i}")
            self.y.append(yi)
        self.t, self.obj_vars = add_objective(model, self.y, plan.ylo, plan.yhi, 2.0 if self.squared else math.inf if len(self.y) == 1 else q, encoding, sign=sign)
        model.setObjective(self.t, "maximize")
        model.markDoNotAggrVar(self.t)  # the Jacobian-bound propagator tightens t at every node
        model.markDoNotMultaggrVar(self.t)

    def to_norm(self, objective: float) -> float:
        """Objective value -> ||J v||_q (the objective is squared for q = 2)."""
        if objective >= 1e19:
            return math.inf
        return math.sqrt(max(objective, 0.0)) if self.squared else max(objective, 0.0)

    def point(self, sol) -> Point:
        m = self.model
        x = np.array([m.getSolVal(sol, xi) for xi in self.x])
        v = np.array([m.getSolVal(sol, vi) if isinstance(vi, Expr) and vi.terms else 0.0 for vi in self.v])
        g = []
        for layer, gl in zip(self.plan.layers, self.g):
            vals = np.array([1 if gi is None else int(round(m.getSolVal(sol, gi))) for gi in gl], dtype=np.uint8)
            g.append(vals)
        return Point(x, v, g)

    def unstable(self) -> List[Tuple[object, int, int]]:
        return [(gi, k, j) for k, gl in enumerate(self.g) for j, gi in enumerate(gl) if gi is not None]

    def add_nogood(self, g: List[np.ndarray]) -> None:
        """Exclude one pattern of the unstable neurons (used for patterns proved to have empty interior)."""
        coefs, items, const = [], [], 0.0
        for gi, k, j in self.unstable():
            if g[k][j]:
                coefs.append(-1.0)
                const += 1.0
            else:
                coefs.append(1.0)
            items.append(gi)
        self.model.addCons(affine(coefs, items, const) >= 1, name=f"nogood{self.model.getNConss()}")

    def set_start(self, x: np.ndarray, v: np.ndarray, g: List[np.ndarray]) -> bool:
        """Hand SCIP a starting solution (binaries and inputs; SCIP completes the rest)."""
        plan, m = self.plan, self.model
        u = np.concatenate([v, np.zeros(len(self.x) - plan.n_dir)])
        for layer, gl in zip(plan.layers, g):
            u = gl * (layer.W @ u)
        y = plan.W_out @ u
        sign = 1.0
        if not self.squared:
            if len(y) > 1 and not math.isinf(self.q):
                sign = 1.0 if y[0] >= 0 else -1.0
            elif np.max(-y) > np.max(y):
                sign = -1.0
        elif math.isinf(self.p) or self.p == 1.0:
            sign = 1.0 if v[int(np.flatnonzero(v)[0])] >= 0 else -1.0
        elif v[0] < 0:
            sign = -1.0
        v, y = v * sign, y * sign
        sol = m.createPartialSol()
        for xi, val in zip(self.x, x):
            m.setSolVal(sol, xi, float(val))
        for gl_vars, gl in zip(self.g, g):
            for gi, val in zip(gl_vars, gl):
                if gi is not None:
                    m.setSolVal(sol, gi, float(val))
        if "sign" in self.v_vars:
            for si, val in zip(self.v_vars["sign"], v):
                m.setSolVal(sol, si, 1.0 if val > 0 else 0.0)
        elif "plus" in self.v_vars:
            i = int(np.argmax(np.abs(v)))
            for j, vp in enumerate(self.v_vars["plus"]):
                m.setSolVal(sol, vp, 1.0 if (j == i and v[i] > 0) else 0.0)
            for j, vm in enumerate(self.v_vars.get("minus", [])):
                m.setSolVal(sol, vm, 1.0 if (j == i and v[i] < 0) else 0.0)
        else:
            for vi, val in zip(self.v_vars["v"], v):
                m.setSolVal(sol, vi, float(val))
        if "pick" in self.obj_vars:
            i = int(np.argmax(y))
            for j, s in enumerate(self.obj_vars["pick"]):
                m.setSolVal(sol, s, 1.0 if j == i else 0.0)
        if "sign" in self.obj_vars:
            for s, val in zip(self.obj_vars["sign"], y[1:]):
                m.setSolVal(sol, s, 1.0 if val >= 0 else 0.0)
        if self.exclusion:
            scores = [side * x[i] - plan.exclusion for i, side, _ in self.exclusion]
            best = int(np.argmax(scores))
            if scores[best] < -1e-9:
                return False
            for idx, (_, _, e) in enumerate(self.exclusion):
                m.setSolVal(sol, e, 1.0 if idx == best else 0.0)
        return bool(m.addSol(sol))
