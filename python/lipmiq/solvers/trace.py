"""An event handler that turns SCIP's progress into certified bounds while it solves."""
from __future__ import annotations

import math
from typing import Callable, Optional

from pyscipopt import SCIP_EVENTTYPE, Eventhdlr

UPPER_RTOL = 2e-7  # inflation of SCIP's dual bound against its feasibility and LP tolerances
# SCIP compares objective values with an absolute epsilon (1e-9): a dual bound can sit that far below the
# maximum, which matters when the objective itself is tiny (a network scaled by 1e-6 has a squared
# objective near 1e-12 and SCIP reported dual = primal = 0). Added in objective space before the norm.
DUAL_ATOL = 1e-8


def inflate(value: float) -> float:
    return value * (1.0 + UPPER_RTOL) if math.isfinite(value) else math.inf


class BoundTrace(Eventhdlr):
    """On each new incumbent, certify it (callback); on each solved node, report the dual bound."""

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
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller after the solve
            self.error = exc
            self.model.interruptSolve()
