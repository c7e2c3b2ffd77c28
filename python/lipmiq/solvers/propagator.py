"""A SCIP propagator bounding the objective by the Jacobian norms still possible at a node.

At a node some activation binaries are fixed. Every point of the closed problem below it that lies in an
activation region with interior has objective <= ||J(g) v||_q for a g agreeing with those fixings and
||v||_p <= 1. Two bounds of max ||J(g)|| over those g are used, the smaller wins:
- `jacobian_bounds.pattern_norm_bound`, the interval Jacobian of the fixings alone (valid for fake patterns
  too), cheap at every call;
- the gradient-bound engine (`bounds.gradient`) on the plan's network and box with the fixings as split
  neurons: its forward bounds use the splits, so it is far tighter, and it proves nodes with no region
  (bound 0). It holds for the regions with interior, which is all the dual bound needs: every real region
  keeps its value at every node, so SCIP's dual bound stays >= L (fake patterns may be cut, never real ones).
  This assumes SCIP never drops a real region's optimum in favour of an equally good fake one (its dual
  reductions promise only to keep some optimum): the binaries are locked both ways, and symmetries map real
  regions to real regions, so none is known to. Its calls are cached per fixing and take at most
  ENGINE_SHARE of the time since the first; neurons without a binary (stably active) are left to the engine
  (-1), so a defect that crossed its bounds with no forced neuron raises instead of reading as empty.
So this is a pattern branch-and-bound running inside SCIP's tree.
"""
from __future__ import annotations

import math
import time
from typing import Dict

import numpy as np
from pyscipopt import SCIP_RESULT, Prop

from ..bounds.gradient import NODE_OPTIONS, bound_network
from ..bounds.jacobian import pattern_norm_bound
from ..formulation.model import Formulation
from ..network import Network, pattern_key
from ..tolerances import SCIP_BOUND_ALLOWANCE

# The engine's calls take at most this share of the time since the first (SCIP's own work keeps the rest).
# Its leaf bounds are exact, so an optimum attains them: the bound handed to SCIP is widened by
# SCIP_BOUND_ALLOWANCE, as are the plan's direction bounds (`formulation.model.widen_directions`); without them SCIP
# lost the optimum of lipbab_sdnet_10-20-15-10-3, p = q = 1 (45.757 < L = 48.049; see tolerances).
ENGINE_SHARE = 0.5
CACHE_SIZE = 1 << 16  # fixings remembered (SCIP calls the propagator several times per node): at most
                      # 65,536 keys of one byte per kept neuron, a few MB on the plans SCIP gets


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
        # no engine when it is off, or when a layer has every neuron stably inactive (none kept: L = 0 there and the
        # interval bound says so)
        usable = ENGINE_SHARE > 0.0 and plan.n_dir > 0 and all(W.shape[0] > 0 for W in Ws)
        self.net = Network(Ws, [layer.b for layer in plan.layers] + [plan.b_out]) if usable else None
        self.ball = {} if plan.ball is None else dict(center=plan.ball[0], radius=plan.ball[1], ball_norm=plan.ball[2])
        self.cache: Dict[bytes, float] = {}
        self.engine_time, self.first = 0.0, None
        self.engine_calls = 0

    def propinitsol(self):
        self.gvars = None

    def propexitsol(self, restart):
        self.gvars = None  # transformed variables die with the transformed problem (no-good re-solves)

    def _transformed(self) -> None:
        m = self.model
        self.t = m.getTransformedVar(self.form.t)
        self.gvars = [[None if g is None else m.getTransformedVar(g) for g in layer] for layer in self.form.g]
        self.binary = [np.array([g is not None for g in layer], dtype=bool) for layer in self.gvars]

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
        bound = pattern_norm_bound(self.weights, states, self.form.p, self.q)
        if self.net is None:
            return bound
        return min(bound, self._engine([np.where(b, s, -1).astype(np.int8) for b, s in zip(self.binary, states)]))

    def _engine(self, states) -> float:
        """The engine's bound on the regions agreeing with the node's fixed binaries `states` (cached; inf when
        there is no engine network or past its share)."""
        if self.net is None:
            return math.inf
        key = pattern_key(states)
        if key in self.cache:
            return self.cache[key]
        now = time.perf_counter()
        self.first = now if self.first is None else self.first
        if self.engine_time > ENGINE_SHARE * (now - self.first):
            return math.inf
        plan = self.form.plan
        res = bound_network(self.net, plan.x_lo, plan.x_hi, self.form.p, self.q, states, n_dir=plan.n_dir,
                            time_limit=max(self.form.deadline - now, 0.0), **self.ball, **NODE_OPTIONS)
        self.engine_time += time.perf_counter() - now
        self.engine_calls += 1
        value = 0.0 if res.empty else res.upper
        if len(self.cache) < CACHE_SIZE:
            self.cache[key] = value
        return value

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
        bound += SCIP_BOUND_ALLOWANCE * max(bound, 1.0)  # the leaves' bounds are exact: an optimum attains them
        value = bound * bound if self.form.squared else bound
        if value < self.t.getUbLocal() - 1e-9 * max(1.0, value):
            infeasible, tightened = self.model.tightenVarUb(self.t, value)
            if infeasible:
                return {"result": SCIP_RESULT.CUTOFF}
            if tightened:
                return {"result": SCIP_RESULT.REDUCEDDOM}
        return {"result": SCIP_RESULT.DIDNOTFIND}
