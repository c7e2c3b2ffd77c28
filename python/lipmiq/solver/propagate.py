"""A SCIP propagator bounding the objective by the Jacobian norms still possible at a node.

At a node some activation binaries are fixed. Every feasible point of the closed problem below it has
objective <= ||J(g) v||_q for some g agreeing with those fixings and ||v||_p <= 1, and J(g) lies in the
interval matrix [Ml, Mu] obtained by multiplying the layers with D_j = {0}, {1} or [0, 1]. For a
nonnegative A >= |M| entrywise, ||M||_{p->q} <= ||A||_{p->q}, and ||A||_{p->q} is tractable for every
pair when A >= 0 (inf->q: ||A 1||_q; 2->1: ||A^T 1||_2). With every binary fixed, the exact norm of J(g)
is used. So the bound is valid for the closed problem (fake patterns included): this is a pattern
branch-and-bound running inside SCIP's tree, and it never cuts off a real pattern's value.
"""
from __future__ import annotations

import math

import numpy as np
from pyscipopt import SCIP_RESULT, Prop

from .. import _core
from ..formulation.model import Formulation
from ..formulation.plan import interval_matmul


def interval_matrix_norm(Ml: np.ndarray, Mu: np.ndarray, p: float, q: float) -> float:
    """max ||M||_{p->q} over Ml <= M <= Mu, bounded through A = max(|Ml|, |Mu|)."""
    A = np.maximum(np.abs(Ml), np.abs(Mu))
    if p == 1.0:
        return float(np.max(np.linalg.norm(A, ord=q, axis=0)))
    if math.isinf(q):
        return float(np.max(np.linalg.norm(A, ord={2.0: 2.0, math.inf: 1.0}[p], axis=1)))
    if math.isinf(p):
        return float(np.linalg.norm(A.sum(axis=1), ord=q))
    if q == 1.0:
        return float(np.linalg.norm(A.sum(axis=0)))
    return float(np.linalg.norm(A, 2))


class JacobianBoundProp(Prop):
    """Tightens the objective variable's local upper bound from the node's activation fixings."""

    def __init__(self, form: Formulation):
        super().__init__()
        self.form = form
        plan = form.plan
        self.first = plan.layers[0].W[:, :plan.n_dir] if plan.layers else plan.W_out[:, :plan.n_dir]
        self.q = math.inf if len(plan.ylo) == 1 else form.q
        self.gvars = None

    def propinitsol(self):
        self.gvars = None

    def propexitsol(self, restart):
        self.gvars = None  # transformed variables die with the transformed problem (no-good re-solves)

    def _transformed(self) -> None:
        m = self.model
        self.t = m.getTransformedVar(self.form.t)
        self.gvars = [[None if g is None else m.getTransformedVar(g) for g in layer] for layer in self.form.g]

    @staticmethod
    def _local_bounds(gvars) -> tuple:
        """Local bounds of a layer's binaries; [0, 1] unless SCIP keeps the variable's own bounds
        (aggregated variables' stored bounds may be stale, so they count as free: always valid)."""
        lo, hi = np.ones(len(gvars)), np.ones(len(gvars))
        for j, g in enumerate(gvars):
            if g is None:
                continue
            if g.getStatus() in ("LOOSE", "COLUMN", "FIXED"):
                lo[j], hi[j] = g.getLbLocal(), g.getUbLocal()
            else:
                lo[j], hi[j] = 0.0, 1.0
        return lo, hi

    def _bound(self) -> float:
        plan = self.form.plan
        Ml = Mu = self.first
        fixed = True
        for k, layer in enumerate(plan.layers):
            if k > 0:
                Ml, Mu = interval_matmul(layer.W, Ml, Mu)
            lo, hi = self._local_bounds(self.gvars[k])
            on, off = lo[:, None] > 0.5, hi[:, None] < 0.5
            fixed = fixed and bool(np.all((lo > 0.5) | (hi < 0.5)))
            Ml = np.where(off, 0.0, np.where(on, Ml, np.minimum(Ml, 0.0)))
            Mu = np.where(off, 0.0, np.where(on, Mu, np.maximum(Mu, 0.0)))
        if plan.layers:
            Ml, Mu = interval_matmul(plan.W_out, Ml, Mu)
        bound = interval_matrix_norm(Ml, Mu, self.form.p, self.q)
        if fixed:
            norms, _, exact = _core.operator_norms(np.ascontiguousarray(Ml[None]), self.form.p, self.q)
            if exact[0]:
                bound = min(bound, float(norms[0]))
        return bound * (1.0 + 1e-9)

    def propexec(self, proptiming):
        # Only at real tree nodes: tightening inside presolve probing led SCIP to wrong global
        # deductions (an upper bound below L, tests/test_miqcqp.py::test_random_networks...[1-1-7...]).
        if self.model.getStageName() != "SOLVING" or self.model.inProbing():
            return {"result": SCIP_RESULT.DIDNOTRUN}
        if self.gvars is None:
            self._transformed()
        if self.t.getStatus() not in ("LOOSE", "COLUMN"):
            return {"result": SCIP_RESULT.DIDNOTRUN}
        bound = self._bound()
        value = bound * bound if self.form.squared else bound
        if value < self.t.getUbLocal() - 1e-9 * max(1.0, value):
            infeasible, tightened = self.model.tightenVarUb(self.t, value)
            if infeasible:
                return {"result": SCIP_RESULT.CUTOFF}
            if tightened:
                return {"result": SCIP_RESULT.REDUCEDDOM}
        return {"result": SCIP_RESULT.DIDNOTFIND}
