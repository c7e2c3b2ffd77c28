"""`lipschitz`: the one entry point that turns a query into a Result."""
from __future__ import annotations

import math
from typing import Any, Callable, Optional

from .domain import Domain
from .errors import InputError
from .io import load
from .methods import get_method
from .query import make_problem
from .result import Result
from .tracker import Tracker
from .witness import recheck


def _check_time_limit(time_limit: object) -> float:
    try:
        value = float(time_limit)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"time limit must be a number of seconds, got {time_limit!r}") from None
    if not value > 0 or math.isnan(value):
        raise InputError(f"time limit must be > 0 seconds, got {time_limit!r}")
    return value


def lipschitz(network: Any, domain: Optional[Domain] = None, p: object = 2, q: object = 2,
              output: object = None, method: str = "miqcqp", time_limit: float = 60.0,
              on_update: Optional[Callable[[Tracker], None]] = None, **options: Any) -> Result:
    """Certified bounds on L(p, q, domain) of a ReLU network (path, Network or torch module).

    `output` selects a scalar output (an index or a weight vector c for c^T f); `domain` defaults to
    all of R^n. Options are passed to the method (e.g. encoding="bigm", gap=1e-6, seed=0).
    """
    net = load(network)
    limit = _check_time_limit(time_limit)
    problem = make_problem(net, domain, p, q, output)
    method_fn = get_method(method)
    tracker = Tracker(limit, on_update)
    if problem.trivial:
        tracker.offer_upper(0.0)
        status, message = "optimal", "the domain is a single point: L = 0"
    else:
        try:
            status, message = method_fn(problem, tracker, dict(options))
        except KeyboardInterrupt:
            status, message = "interrupted", "interrupted: bounds found so far"
    if tracker.witness is not None:
        recheck(problem, tracker.witness)
    if tracker.lower > tracker.upper * (1 + 1e-9) + 1e-12:
        status = "error"
        message = f"inconsistent bounds lower={tracker.lower!r} > upper={tracker.upper!r}; please report this network"
    return Result(
        lower=tracker.lower, upper=tracker.upper, status=status, method=method, p=problem.p,
        q=problem.q_requested, domain=problem.full_domain.to_dict(), output=output,
        time_s=tracker.elapsed(), witness=tracker.witness, history=tracker.history, message=message,
    )
