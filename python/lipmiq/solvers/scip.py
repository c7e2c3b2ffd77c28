"""The one SCIP driver: every lipmiq model (the MIQCQP's closed and strict problems, the LipMIP MILP, the
monotonicity entries) is created, parameterised, solved and harvested here.

While SCIP solves, an event handler hands each new incumbent to the caller (who certifies it) and, for
a closed model, each dual-bound move; after the solve the best few solutions are harvested too. A caller
may ask for a re-solve after an optimal solve (the no-good loop that cuts patterns proved empty).
"""
from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

from pyscipopt import SCIP_EVENTTYPE, SCIP_PROPTIMING, Eventhdlr, Model, Prop

from ..tolerances import SCIP_DUAL_ATOL, SCIP_DUAL_RTOL, SCIP_FEASTOL

STATUS = {"optimal": "optimal", "gaplimit": "gap_limit", "timelimit": "time_limit", "userinterrupt": "interrupted"}
HARVEST = 5  # solutions of a finished solve offered for certification (besides the incumbents seen live)
SOLVED = ("optimal", "gaplimit")
NO_ANSWER = ("infeasible", "inforunbd", "unbounded", "unknown")


def status_of(raw: str) -> str:
    """lipmiq's status for a SCIP status string ('error' for anything unexpected)."""
    return STATUS.get(raw, "error")


def new_model(name: str, dual_reductions: bool = False, feastol: float = SCIP_FEASTOL) -> Model:
    """A silent model with lipmiq's numerics. Dual reductions may discard optimal solutions; with the
    nonlinear constraints and a starting solution, SCIP 10's presolve was seen to discard all of them and
    report a value below the true maximum (tests/test_miqcqp.py::test_warm_start_keeps_upper_bound_sound),
    so they are off unless a model (the LipMIP MILP) is known to be safe with them. The tolerance-relaxed
    optimum exceeds the true one by about feastol relative: SCIP_FEASTOL keeps exact cases exact."""
    model = Model(name)
    model.hideOutput()
    if not dual_reductions:
        model.setParam("misc/allowstrongdualreds", False)
        model.setParam("misc/allowweakdualreds", False)
    model.setParam("numerics/feastol", feastol)
    # No propagation in strong branching's children: there SCIP cut off children holding an optimum, once through a
    # bound clipped within feastol (see SCIP_BOUND_ALLOWANCE) and once, on random_net(7, [3, 4, 3, 2]) on R^n with
    # p = q = 1 and the direction bounds widened, where fixing the optimal pattern and direction in a probing
    # child was declared infeasible with every bound containing the optimum (dual 4.82 < L = 5.28; cause inside
    # SCIP's linear, set-partitioning and nonlinear propagation together, not isolated). The children's LPs keep
    # strong branching; a real node's propagation still runs.
    model.setParam("branching/relpscost/maxproprounds", 0)
    return model


class _MainThread:
    """What SCIP holds of the main thread: how deep it is inside SCIP (a solve, or a call that runs SCIP's
    callbacks), whether SCIP's own Ctrl-C handler is installed (during `model.optimize()`), and a stop
    requested meanwhile (`defer_stop`)."""

    depth = 0
    solving = False
    stop = False


def defer_stop() -> bool:
    """For a signal handler: True when the main thread is inside SCIP, where an exception raised in a callback
    escapes as an opaque "SCIP: unspecified error". The stop is then left to SCIP's own Ctrl-C handler (SIGINT
    re-raised) during a solve, and raised as KeyboardInterrupt when SCIP returns (`inside`) otherwise, or when
    the signal came after SCIP's last callback."""
    if _MainThread.depth == 0:
        return False
    _MainThread.stop = True
    if _MainThread.solving:
        signal.raise_signal(signal.SIGINT)
    return True


@contextlib.contextmanager
def inside(model: Model, solve: bool = False) -> Iterator[None]:
    """The main thread inside SCIP for the block; a stop deferred meanwhile is raised as KeyboardInterrupt at its
    end, unless SCIP itself stopped for it (a solve with status userinterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _MainThread.depth += 1
    outer = _MainThread.solving
    _MainThread.solving = outer or solve
    try:
        yield
    finally:
        _MainThread.depth -= 1
        _MainThread.solving = outer
        stop = _MainThread.stop and _MainThread.depth == 0
        if stop:
            _MainThread.stop = False
    if stop and not (solve and model.getStatus() == "userinterrupt"):
        raise KeyboardInterrupt


def optimize(model: Model) -> str:
    """Run SCIP on the model as it stands; its status string."""
    with inside(model, solve=True):
        model.optimize()
    return model.getStatus()


def free_transform(model: Model) -> None:
    """Back to the problem stage (for changes after a solve); runs SCIP's exit callbacks, hence `inside`."""
    with inside(model):
        model.freeTransform()


def upper_from_dual(dual: float) -> float:
    """SCIP's dual bound (objective space) inflated for its tolerances: SCIP_DUAL_ATOL added, then
    SCIP_DUAL_RTOL relative; infinite when SCIP has no finite bound."""
    if dual >= 1e19 or not math.isfinite(dual):
        return math.inf
    return dual + SCIP_DUAL_ATOL


def inflate(value: float) -> float:
    """The relative part of the allowance, applied to a value derived from the dual bound."""
    return value * (1.0 + SCIP_DUAL_RTOL) if math.isfinite(value) else math.inf


class _Trace(Eventhdlr):
    """On each new incumbent, hand it to `on_solution`; on each solved node, the dual bound to `on_dual`."""

    def __init__(self, on_solution: Callable[[object], None], on_dual: Optional[Callable[[float], None]]):
        super().__init__()
        self.on_solution = on_solution
        self.on_dual = on_dual
        self.error: Optional[BaseException] = None

    def eventinit(self):
        self.model.catchEvent(SCIP_EVENTTYPE.BESTSOLFOUND, self)
        if self.on_dual is not None:
            self.model.catchEvent(SCIP_EVENTTYPE.NODESOLVED, self)

    def eventexit(self):
        self.model.dropEvent(SCIP_EVENTTYPE.BESTSOLFOUND, self)
        if self.on_dual is not None:
            self.model.dropEvent(SCIP_EVENTTYPE.NODESOLVED, self)

    def eventexec(self, event):
        # An exception escaping a callback becomes an opaque SCIP error: keep it and stop cleanly.
        try:
            if event.getType() == SCIP_EVENTTYPE.BESTSOLFOUND:
                self.on_solution(self.model.getBestSol())
            elif self.on_dual is not None:
                self.on_dual(self.model.getDualbound())
        except BaseException as exc:  # noqa: BLE001 - re-raised by `solve` after the solve
            self.error = exc
            self.model.interruptSolve()


@dataclass
class Outcome:
    """How a solve ended: SCIP's raw status and its last dual bound (None when SCIP has no answer)."""

    raw: str
    dual: Optional[float]
    solutions: int
    nodes: int

    @property
    def status(self) -> str:
        return status_of(self.raw)


def solve(model: Model, deadline: float, on_solution: Callable[[object], None],
          on_dual: Optional[Callable[[float], None]] = None, gap: Optional[float] = None,
          absgap: Optional[float] = None, seed: Optional[int] = None, propagator: Optional[Prop] = None,
          resolve: Optional[Callable[[Model], bool]] = None) -> Outcome:
    """Solve until `deadline` (time.perf_counter() seconds). Incumbents go to `on_solution` live and the
    best HARVEST solutions again at the end; dual-bound moves (a closed model) go to `on_dual`, the final one
    included. `propagator` is attached at every tree node. After an optimal (or gap-limit) solve,
    `resolve(model)` may change the model (after `freeTransform`) and return True to solve again."""
    trace = _Trace(on_solution, on_dual)
    model.includeEventhdlr(trace, "lipmiq_trace", "certifies incumbents, records bounds")
    if propagator is not None:
        model.includeProp(propagator, "lipmiq_jacobian", "objective <= a Jacobian norm bound of the node's fixings",
                          presolpriority=0, presolmaxrounds=0, proptiming=SCIP_PROPTIMING.BEFORELP,
                          priority=1000000, freq=1, delay=False)
        # The propagator tightens the objective without an inference reason SCIP can resolve; conflict
        # analysis then derived conflicts that cut off the optimal pattern, and the dual bound fell below L
        # (tests/test_fuzz.py::test_propagator_with_conflict_analysis_..., replayed deterministically).
        model.setParam("conflict/enable", False)
    if gap is not None:
        model.setParam("limits/gap", gap)
    if absgap is not None:
        model.setParam("limits/absgap", absgap)
    if seed is not None:
        model.setParam("randomization/randomseedshift", seed)
    while True:
        model.setParam("limits/time", max(deadline - time.perf_counter(), 0.01))
        raw = optimize(model)
        if trace.error is not None:
            raise trace.error
        if raw in NO_ANSWER:
            return Outcome(raw, None, model.getNSols(), model.getNTotalNodes())
        dual = model.getDualbound()
        if on_dual is not None:
            on_dual(dual)
        for sol in model.getSols()[:HARVEST]:
            on_solution(sol)
        if resolve is None or raw not in SOLVED or model.getNSols() == 0 or time.perf_counter() >= deadline:
            return Outcome(raw, dual, model.getNSols(), model.getNTotalNodes())
        if not resolve(model):
            return Outcome(raw, dual, model.getNSols(), model.getNTotalNodes())
