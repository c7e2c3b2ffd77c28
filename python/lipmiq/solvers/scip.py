"""The MIQCQP search: closed problem for the upper bound (with no-good cuts on patterns that have
no interior), then, if a gap remains, the strict problem for the lower bound.

Every incumbent is mapped back to the problem's input space and certified by `witness.certify`
(repaired by the region LP when it sits on a boundary); only the closed problem's dual bound, inflated
for tolerances, is ever reported as an upper bound.
"""
from __future__ import annotations

import dataclasses
import math
from typing import List, Optional, Tuple

import numpy as np

from ..formulation.model import Formulation, Point
from ..formulation.plan import Plan
from ..problem import Problem
from ..certify.regions import empty_interior, interior_point
from ..result import Witness
from ..tracker import Tracker
from ..certify.witness import certify, pattern_at
from .propagator import JacobianBoundProp
from .trace import DUAL_ATOL, BoundTrace, inflate
from pyscipopt import SCIP_PROPTIMING

SCIP_STATUS = {"optimal": "optimal", "gaplimit": "gap_limit", "timelimit": "time_limit",
               "userinterrupt": "interrupted"}


def plan_point(plan: Plan, problem: Problem, x: np.ndarray) -> Optional[np.ndarray]:
    """A point of the problem's input space in the plan's coordinates (same activation pattern)."""
    x = np.asarray(x, dtype=np.float64)
    if plan.homogenised:
        s = max(1.0, float(np.max(np.abs(x))))
        return np.concatenate([x / s, [1.0 / s]])
    if plan.exclusion is not None:
        size = float(np.max(np.abs(x)))
        if size == 0.0:
            return None
        if size < plan.exclusion:  # bias-free: the pattern is constant along rays from 0
            x = x * (plan.exclusion / size)
            if not problem.domain.contains(x):
                return None
    return x


def output_scale(plan: Plan, typical: float = 0.0) -> float:
    """A power of two s with s * (the bound on |y|) near 1. SCIP's tolerances are absolute (1e-9 on
    objectives, 1e-6 on rows), so an output of scale 1e-6 or 1e6 lost 1e-2 of relative accuracy or hit
    "unresolved numerical troubles"; scaling W_out by a power of two is exact, and so is dividing back.
    `typical` (the certified lower bound, if any) sets the scale of the optimum better than the y bounds."""
    big = float(np.max(np.maximum(np.abs(plan.ylo), np.abs(plan.yhi)))) if len(plan.ylo) else 0.0
    if typical > 0.0 and math.isfinite(typical):
        big = typical
    coef = float(np.max(np.abs(plan.W_out))) if plan.W_out.size else 0.0
    if not (big > 0.0 and math.isfinite(big) and coef > 0.0):
        return 1.0
    # Never shrink the output weights below 1: SCIP drops coefficients under its epsilon (1e-9), which
    # made y = 0 and the dual bound 0 when every layer was scaled by 1e6 (tests/test_numerics.py).
    return max(2.0 ** -round(math.log2(big)), 2.0 ** -round(math.log2(coef)))


def scaled_plan(plan: Plan, s: float) -> Plan:
    """The plan of s * f: only the output layer and its bounds change."""
    return dataclasses.replace(plan, W_out=plan.W_out * s, b_out=plan.b_out * s, ylo=plan.ylo * s, yhi=plan.yhi * s)


def _near_one(magnitude: np.ndarray) -> np.ndarray:
    """Powers of two c with c * magnitude near 1 (1 where a magnitude is 0 or not finite)."""
    ok = (magnitude > 0.0) & np.isfinite(magnitude)
    out = np.ones_like(magnitude)
    out[ok] = 2.0 ** -np.round(np.log2(magnitude[ok]))
    return out


def balanced_plan(plan: Plan) -> Plan:
    """The same network with every hidden neuron rescaled by a power of two c_j so that its pre-activation
    and direction bounds are near 1: W_k -> diag(c_k) W_k diag(c_{k-1})^-1, b_k -> c_k b_k, W_out ->
    W_out diag(c_{L-1})^-1. Exact (relu is positively homogeneous, powers of two multiply exactly):
    patterns, inputs, directions and the output are unchanged. With every layer at 1e6 scale, SCIP's
    tolerances met pre-activations of 1e18 and its dual bound fell below L (review, fuzz seed 3590);
    one factor per neuron, not per layer, because neurons of one layer can differ by orders of magnitude."""
    layers, prev = [], np.ones(plan.x_lo.size)
    for layer in plan.layers:
        z = np.maximum(np.abs(layer.lo), np.abs(layer.hi))
        w = np.maximum(np.abs(layer.wlo), np.abs(layer.whi))
        both = (z > 0) & (w > 0)
        c = _near_one(np.where(both, np.sqrt(z * w), np.maximum(z, w)))
        layers.append(dataclasses.replace(layer, W=layer.W * c[:, None] / prev[None, :], b=layer.b * c, lo=layer.lo * c,
                                          hi=layer.hi * c, eps=layer.eps * c, wlo=layer.wlo * c, whi=layer.whi * c))
        prev = c
    return dataclasses.replace(plan, layers=layers, W_out=plan.W_out / prev[None, :])


def problem_points(plan: Plan, x: np.ndarray) -> List[np.ndarray]:
    """Candidate problem-space points for a plan point (several scales for a point at infinity)."""
    if not plan.homogenised:
        return [x]
    xs, t = x[:-1], x[-1]
    if t > 1e-9:
        return [xs / t]
    return [xs * scale for scale in (1e3, 1e6, 1e9, 1e12)]


class Search:
    def __init__(self, problem: Problem, plan: Plan, tracker: Tracker, encoding: str, gap: float, seed: int):
        self.problem, self.plan, self.tracker = problem, plan, tracker
        balanced = balanced_plan(plan)
        self.scale = output_scale(balanced, tracker.lower)  # the models see s * f; their bounds are divided by s
        self.model_plan = scaled_plan(balanced, self.scale)
        self.encoding, self.gap, self.seed = encoding, gap, seed
        self.nogoods = 0

    # --- incumbents -> certified lower bounds -------------------------------------------------
    def certify_point(self, point: Point) -> Optional[Witness]:
        """The best certified witness for a solution: at its own x, or, when x sits on a region
        boundary (solver tolerances), at the deepest point of the solution's pattern region."""
        full = self.plan.full_pattern(self.problem.network, point.g)
        best = None
        for x in problem_points(self.plan, point.x):
            best = certify(self.problem, x, point.v)
            if best is not None:
                break
        if best is None or any(not np.array_equal(a, b) for a, b in zip(best.pattern, full)):
            inner, _ = interior_point(self.problem, full)
            other = None if inner is None else certify(self.problem, inner, point.v)
            if other is not None and (best is None or other.value > best.value):
                best = other
        return best

    def _on_solution(self, form: Formulation):
        def handle(sol) -> None:
            self.tracker.offer_lower(self.certify_point(form.point(sol)))
        return handle

    def _offer_dual(self, form: Formulation, dual: float) -> None:
        """SCIP's dual bound of the closed model -> an upper bound on L (tolerances, output scale undone)."""
        self.tracker.offer_upper(inflate(form.to_norm(dual + DUAL_ATOL)) / self.scale)

    def _on_dual(self, form: Formulation):
        return lambda dual: self._offer_dual(form, dual)

    # --- solving ----------------------------------------------------------------------------
    def _warm_start(self, form: Formulation) -> None:
        w = self.tracker.witness
        if w is None:
            return
        x = w.x[self.problem.free]
        xp = plan_point(self.plan, self.problem, x)
        if xp is None:
            return
        g_full, _ = pattern_at(self.problem.network, x, np.arange(x.size))
        if g_full is None:
            return
        g = []
        for k, kept in enumerate(self.plan.kept):
            ext = np.concatenate([g_full[k], [1]]) if self.plan.homogenised else g_full[k]
            g.append(ext[kept].astype(np.uint8))
        form.set_start(xp, w.v[self.problem.free], g)

    def _optimize(self, form: Formulation) -> str:
        m = form.model
        m.setParam("limits/time", max(self.tracker.remaining(), 0.01))
        m.setParam("limits/gap", self.gap)
        m.setParam("randomization/randomseedshift", self.seed)
        m.optimize()
        self.tracker.count(scip_nodes=m.getNNodes())
        return m.getStatus()

    def _attach(self, form: Formulation, closed: bool) -> BoundTrace:
        trace = BoundTrace(self._on_solution(form), self._on_dual(form) if closed else None)
        form.model.includeEventhdlr(trace, "lipmiq_trace", "certifies incumbents, records bounds")
        form.model.includeProp(JacobianBoundProp(form), "lipmiq_jacobian", "objective <= interval Jacobian norm",
                               presolpriority=0, presolmaxrounds=0, proptiming=SCIP_PROPTIMING.BEFORELP,
                               priority=1000000, freq=1, delay=False)
        # The propagator tightens t without an inference reason SCIP can resolve; conflict analysis then
        # derived conflicts that cut off the optimal pattern, and the dual bound fell below L
        # (tests/test_fuzz.py::test_propagator_with_conflict_analysis_..., replayed deterministically).
        form.model.setParam("conflict/enable", False)
        return trace

    def run(self) -> Tuple[str, str]:
        status, note = self._closed()
        if status in ("interrupted",) or self.tracker.exact or self.tracker.remaining() <= 0:
            return status, note
        strict_status = self._strict()
        if self.tracker.exact:
            return "optimal", note + "; strict problem closed the gap"
        return strict_status if strict_status != "optimal" else status, note

    def _closed(self) -> Tuple[str, str]:
        form = Formulation(self.model_plan, self.problem.p, self.problem.q, strict=False, encoding=self.encoding)
        self._warm_start(form)
        trace = self._attach(form, closed=True)
        note = f"{self.plan.n_unstable} unstable neurons, {self.encoding} encoding"
        while True:
            raw = self._optimize(form)
            if trace.error is not None:
                raise trace.error
            m = form.model
            if raw in ("infeasible", "inforunbd", "unbounded", "unknown"):
                # Every real pattern is feasible, so this is numerical trouble: no upper bound from it.
                return "error", note + f"; SCIP reported the closed problem {raw} (numerical trouble)"
            self._offer_dual(form, m.getDualbound())
            for sol in m.getSols()[:5]:
                self.tracker.offer_lower(self.certify_point(form.point(sol)))
            status = "optimal" if self.tracker.exact else SCIP_STATUS.get(raw, "error")
            if raw not in ("optimal", "gaplimit") or self.tracker.exact:
                return status, note
            best = form.point(m.getBestSol())
            full = self.plan.full_pattern(self.problem.network, best.g)
            if not empty_interior(self.problem, full) or self.tracker.remaining() <= 0:
                return status, note + "; the optimal pattern's region was not certified (too thin or tolerance) and is kept"
            self.nogoods += 1
            note = f"{self.plan.n_unstable} unstable neurons, {self.encoding} encoding, {self.nogoods} empty-interior patterns cut"
            m.freeTransform()
            form.add_nogood(best.g)

    def _strict(self) -> str:
        form = Formulation(self.model_plan, self.problem.p, self.problem.q, strict=True, encoding=self.encoding)
        self._warm_start(form)
        trace = self._attach(form, closed=False)
        raw = self._optimize(form)
        if trace.error is not None:
            raise trace.error
        for sol in form.model.getSols()[:5]:
            self.tracker.offer_lower(self.certify_point(form.point(sol)))
        if raw == "infeasible":
            # No point keeps every unstable pre-activation eps away from 0 (e.g. a neuron constant at 0 on
            # every region): a property of the network, not a solver failure; the bounds stand as they are.
            return "optimal"
        return SCIP_STATUS.get(raw, "error")
