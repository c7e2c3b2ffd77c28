"""The LipMIP baseline (Jordan and Dimakis 2020): a MILP over the forward pass and the back-propagated gradient.

||J||_{p->q} = max over c in the dual ball of q (a polytope for q in {1, inf}, so a vertex: c in {+-1}^m
for q = 1, c in {+-e_i} for q = inf) of ||J^T c||_{p*}. The model encodes, with one binary g per unstable
neuron shared by both passes:
- forward: z_k = W_k a_{k-1} + b_k, a_k = relu(z_k) by big-M from the pre-activation bounds (closed regions);
- backward: d_{L-1} = W_L^T c, e_k = g_k * d_k by big-M from interval bounds of d_k, d_{k-1} = W_k^T e_k,
  grad = W_1^T e_1;
- objective ||grad||_{p*}: sign binaries for the l1 norm (p = inf), index binaries for the l-inf norm (p = 1).
c and -c are both feasible, so the objective breaks that symmetry (the builders of formulation/model.py).
Every real activation pattern of the domain is feasible, so SCIP's dual bound (inflated) is an upper bound,
even where the closed formulation exceeds L at degenerate points; lower bounds come only from certified
incumbents. Stably active / inactive neurons are fixed first, as LipMIP does; the MIQCQP's ties are not used.
SCIP's tolerances are absolute, so every layer's variables are brought to order 1 by a power of two
(exact): the forward variables of layer k are sigma_k z_k (ReLU is positively homogeneous, so the pattern is
unchanged), the backward ones tau_k d_k (linear), the gradient tau_g grad (the dual bound is divided by tau_g).
"""
from __future__ import annotations

import math
from typing import List, Tuple

import numpy as np

from .. import options as opt
from ..bounds import root_bounds
from ..bounds.direction import interval_chain
from ..bounds.jacobian import interval_matmul
from ..certify.solutions import certify_solution
from ..domain import Global
from ..errors import InputError, check_deadline
from ..formulation.model import (
    Point,
    add_input,
    add_objective,
    add_product,
    add_region,
    affine,
)
from ..norms import dual, norm_name
from ..problem import Problem
from ..reductions import Plan, reduce
from ..solvers import scip
from ..tolerances import SCIP_FEASTOL
from ..tracker import Tracker
from .naive import naive_upper
from .sample import sampling_stage

SUPPORTED = "p, q in {1, inf} (e.g. p = q = 1, p = q = inf; any q for a scalar output)"


def check_query(problem: Problem) -> None:
    """LipMIP needs a polyhedral input norm, a polyhedral output dual ball and a bounded domain."""
    if problem.p not in (1.0, math.inf) or problem.q not in (1.0, math.inf):
        raise InputError(f"method 'milp' (LipMIP) supports {SUPPORTED}; got p = {norm_name(problem.p)}, "
                         f"q = {norm_name(problem.q_requested)}")
    if isinstance(problem.domain, Global):
        raise InputError("method 'milp' (LipMIP) needs a bounded domain (box or ball): its big-M constants "
                         "come from pre-activation bounds; use method 'miqcqp' for the global domain")


def backward_bounds(plan: Plan, clo: np.ndarray, chi: np.ndarray):
    """Interval bounds of d_k (per hidden layer, before the switch) and of grad = W_1^T e_1."""
    layers = plan.layers[::-1]
    out = interval_chain(interval_matmul(plan.W_out.T, clo, chi), [layer.W.T for layer in layers],
                         [layer.active for layer in layers])
    return out[-2::-1], out[-1]


def _power_of_two_scale(lo: np.ndarray, hi: np.ndarray) -> float:
    """A power of two s with s * max(|lo|, |hi|) in [1, 1024] (1 if already there, or for zero bounds).

    SCIP's feasibility tolerance is absolute (1e-6) below 1 and relative above, and big-M rows lose
    accuracy at large magnitudes: values of order 1..1e3 keep the relative error near 1e-6."""
    big = max(float(np.max(np.abs(lo), initial=0.0)), float(np.max(np.abs(hi), initial=0.0)))
    if not (big > 0.0 and math.isfinite(big)) or 1.0 <= big <= 1024.0:
        return 1.0
    return 2.0 ** -math.floor(math.log2(big)) if big < 1.0 else 2.0 ** (10 - math.ceil(math.log2(big)))


class LipMIP:
    """The MILP of a Plan for (p, q): forward big-M pass, backward big-M pass, norm objective."""

    def __init__(self, plan: Plan, p: float, q: float, feastol: float, deadline: float = math.inf):
        self.deadline = deadline
        self.plan = plan
        m = self.model = scip.new_model("lipmip", dual_reductions=True, feastol=feastol)
        self.x = add_input(m, plan)
        self.g = self._forward()
        c, clo, chi = self._output_vertex(plan.W_out.shape[0], q)
        d_bounds, (glo, ghi) = backward_bounds(plan, clo, chi)
        self.scale = _power_of_two_scale(glo, ghi)
        glo, ghi = glo * self.scale, ghi * self.scale
        grad = self._backward(c, d_bounds, glo, ghi)
        self.t, _ = add_objective(m, grad, glo, ghi, dual(p), "bigm")
        m.setObjective(self.t, "maximize")

    def _forward(self) -> List[List]:
        m, a_prev, gs, sigma_prev = self.model, list(self.x), [], 1.0
        for k, layer in enumerate(self.plan.layers):
            a_out, g_out = [], []
            sigma = _power_of_two_scale(layer.lo, layer.hi)
            W, b = layer.W * (sigma / sigma_prev), layer.b * sigma
            for j in range(W.shape[0]):
                check_deadline(self.deadline, "building the LipMIP model")
                name, lo, hi = f"l{k}n{j}", float(layer.lo[j] * sigma), float(layer.hi[j] * sigma)
                nz = np.flatnonzero(W[j])
                z = m.addVar(name=f"z_{name}", lb=lo, ub=hi)
                m.addCons(affine(W[j][nz], [a_prev[i] for i in nz], float(b[j])) - z == 0, name=f"zdef_{name}")
                if layer.active[j]:
                    a_out.append(z)
                    g_out.append(None)
                    continue
                g = m.addVar(name=f"g_{name}", vtype="B")
                a = add_product(m, g, z, lo, hi, "bigm", f"a_{name}")
                add_region(m, g, z, a, lo, hi, 0.0, "bigm", name)
                a_out.append(a)
                g_out.append(g)
            gs.append(g_out)
            a_prev, sigma_prev = a_out, sigma
        return gs

    def _output_vertex(self, m_out: int, q: float):
        """c as linear expressions of binaries: a vertex of the unit ball of q* (all of {+-1}^m or {+-e_i})."""
        m = self.model
        ones = np.ones(m_out)
        if q == 1.0:  # q* = inf: c_i = 2 s_i - 1
            s = [m.addVar(name=f"c{i}", vtype="B") for i in range(m_out)]
            return [affine([2.0], [si], -1.0) for si in s], -ones, ones
        plus = [m.addVar(name=f"cp{i}", vtype="B") for i in range(m_out)]
        minus = [m.addVar(name=f"cm{i}", vtype="B") for i in range(m_out)]
        m.addCons(affine([1.0] * (2 * m_out), plus + minus) == 1, name="c_vertex")
        return [affine([1.0, -1.0], [cp, cm]) for cp, cm in zip(plus, minus)], -ones, ones

    def _backward(self, c: List, d_bounds, glo: np.ndarray, ghi: np.ndarray) -> List:
        """grad (times self.scale) from c; glo, ghi are already scaled, d_bounds are not."""
        m, plan = self.model, self.plan
        e, W, tau_prev = c, plan.W_out, 1.0
        for k in range(len(plan.layers) - 1, -1, -1):
            layer, (dlo, dhi) = plan.layers[k], d_bounds[k]
            tau = _power_of_two_scale(dlo, dhi)
            W, dlo, dhi, tau_prev = W * (tau / tau_prev), dlo * tau, dhi * tau, tau
            e_next = []
            for j in range(W.shape[1]):
                check_deadline(self.deadline, "building the LipMIP model")
                name, col = f"l{k}n{j}", W[:, j]
                nz = np.flatnonzero(col)
                d = m.addVar(name=f"d_{name}", lb=float(dlo[j]), ub=float(dhi[j]))
                m.addCons(affine(col[nz], [e[i] for i in nz]) - d == 0, name=f"ddef_{name}")
                g = self.g[k][j]
                e_next.append(d if g is None else add_product(m, g, d, float(dlo[j]), float(dhi[j]), "bigm", f"e_{name}"))
            e, W = e_next, layer.W
        W = W * (self.scale / tau_prev)
        grad = []
        for i in range(W.shape[1]):
            col = W[:, i]
            nz = np.flatnonzero(col)
            gi = m.addVar(name=f"grad{i}", lb=float(glo[i]), ub=float(ghi[i]))
            m.addCons(affine(col[nz], [e[j] for j in nz]) - gi == 0, name=f"graddef{i}")
            grad.append(gi)
        return grad

    def point(self, sol) -> Point:
        m = self.model
        x = np.array([m.getSolVal(sol, xi) for xi in self.x])
        g = [np.array([1 if gi is None else int(round(m.getSolVal(sol, gi))) for gi in gl], dtype=np.uint8) for gl in self.g]
        return Point(x, None, g)


OPTIONS = opt.Options(
    opt.tighten("symbolic"),
    opt.gap(),
    opt.seed(),
    opt.Option("feastol", opt.real(1e-17, 1e-3), SCIP_FEASTOL, "SCIP's feasibility tolerance (numerics/feastol)"),
)


def run(problem: Problem, tracker: Tracker, options: dict) -> Tuple[str, str]:
    check_query(problem)
    seed = options["seed"]
    root = root_bounds(problem.network, problem.domain, tracker.deadline)
    with tracker.stage("product"):
        tracker.offer_upper(naive_upper(problem, root, tracker.deadline)[0])
    settled = sampling_stage(problem, tracker, seed, root)
    if settled is not None:
        return settled
    with tracker.stage("tightening"):
        plan, chain = reduce(problem, root, options["tighten"], min(30.0, 0.15 * tracker.remaining()),
                             deadline=tracker.deadline)
    tracker.note(unstable_neurons=plan.n_unstable)
    # as the MIQCQP's models: at SCIP's default 1e-6 the tolerance-relaxed optimum sat a few 1e-6 above L
    form = LipMIP(plan, problem.p, problem.q, options["feastol"], tracker.deadline)

    def on_solution(sol) -> None:
        point = form.point(sol)
        tracker.offer_lower(certify_solution(problem, chain, point.x, None, point.g))

    def on_dual(value: float) -> None:
        tracker.offer_upper(scip.inflate(scip.upper_from_dual(value)) / form.scale)

    with tracker.stage("scip"):
        outcome = scip.solve(form.model, tracker.deadline, on_solution, on_dual, gap=options["gap"], seed=seed)
        tracker.count(scip_nodes=outcome.nodes)
    note = f"LipMIP MILP, {plan.n_unstable} unstable neurons"
    if outcome.raw == "infeasible":  # impossible for a non-empty domain: keep the bounds found so far
        return "error", note + "; SCIP reports the model infeasible (numerical trouble?)"
    status = "optimal" if tracker.exact else outcome.status
    if outcome.raw == "optimal" and not tracker.exact:
        note += "; solved, but the optimum sits on a degenerate (empty-interior) pattern: the gap is not closed"
    return status, note
