"""A SCIP propagator bounding the objective by the Jacobian norms still possible at a node.

At a node some activation binaries are fixed. Every feasible point of the closed problem below it has
objective <= ||J(g) v||_q for some g agreeing with those fixings and ||v||_p <= 1, and
`jacobian_bounds.pattern_norm_bound` bounds ||J(g)|| over those g. So the bound is valid for the closed
problem (fake patterns included): this is a pattern branch-and-bound running inside SCIP's tree, and it
never cuts off a real pattern's value.
"""
from __future__ import annotations

import math

import numpy as np
from pyscipopt import SCIP_RESULT, Prop

from ..formulation.model import Formulation
from ..bounds.jacobian import pattern_norm_bound


class JacobianBoundProp(Prop):
    """Tightens the objective variable's local upper bound from the node's activation fixings."""

    def __init__(self, form: Formulation):
        super().__init__()
        self.form = form
        plan = form.plan
        # W_1 restricted to the direction's inputs (homogenised plans carry t last), then W_2 .. W_L
        Ws = [layer.W for layer in plan.layers] + [plan.W_out]
        self.weights = [np.ascontiguousarray(W) for W in [Ws[0][:, :plan.n_dir]] + Ws[1:]]
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
        states = []
        for k in range(len(plan.layers)):
            lo, hi = self._local_bounds(self.gvars[k])
            states.append(np.where(lo > 0.5, 1, np.where(hi < 0.5, 0, -1)).astype(np.int8))
        return pattern_norm_bound(self.weights, states, self.form.p, self.q)

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
