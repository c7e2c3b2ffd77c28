"""`lipschitz`: the one entry point that turns a query into a Result.

Reliability (docs/reliability.md): the query is validated and its memory estimated before anything
large is built; a method that fails (solver error, numerical trouble, out of memory) or is interrupted
(Ctrl-C, SIGTERM) still returns the certified bounds its earlier stages offered to the tracker, with a
status saying what happened; a lower bound whose witness does not re-check is never returned.
"""
from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

from .bounds import root_bounds
from .certify.witness import recheck
from .domain import Domain
from .errors import InputError, TimeUp
from .io import load
from .io.npz import check_npz
from .limits import enforce
from .methods import get_method, method_options
from .methods.naive import naive_upper
from .problem import Problem, make_problem
from .result import Result
from .solvers import scip
from .status import settle
from .tolerances import CONSISTENCY_RTOL
from .tracker import Tracker

# The keyword arguments of `lipschitz` itself: suggested when an unknown option looks like one of them.
ARGUMENTS = ("domain", "p", "q", "output", "method", "time_limit", "on_update", "max_model_bytes")


def check_options(method: str, options: Dict[str, Any]) -> Dict[str, Any]:
    """Every option of `method` with a checked value (defaults filled in); InputError for an unknown
    method, an unknown option (naming the valid ones) or a bad value."""
    return method_options(method).validate(method, options, also=ARGUMENTS)


class _Signals:
    """Whether SIGTERM arrived during the current call (the message says so)."""

    terminated = False


def check_time_limit(time_limit: object) -> float:
    """A time limit in seconds (> 0), or InputError."""
    try:
        value = float(time_limit)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"time limit must be a number of seconds, got {time_limit!r}") from None
    if not value > 0 or math.isnan(value):
        raise InputError(f"time limit must be > 0 seconds, got {time_limit!r}")
    return value


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While solving in the main thread, SIGTERM stops the solve as Ctrl-C does.

    The Python handler runs at the next bytecode: inside SCIP, at its next callback (propagator or event
    handler). There it leaves the stop to `solvers.scip.defer_stop`: SIGINT re-raised reaches SCIP's own
    Ctrl-C handler (installed for the solve whatever Python's SIGINT disposition), which stops the solve
    cleanly (status userinterrupt), and a stop SCIP did not act on is raised when SCIP returns; raising an
    exception in a SCIP callback would escape as an opaque "SCIP: unspecified error". Elsewhere it raises
    KeyboardInterrupt itself: a process started in the background has SIGINT ignored, and re-raising
    SIGINT would then do nothing.
    """
    _Signals.terminated = False
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001 - signal handler signature
        _Signals.terminated = True
        if not scip.defer_stop():
            raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # no signals here (embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_method(method: str, problem: Problem, tracker: Tracker, options: dict) -> Tuple[str, str]:
    """Run a method; failures and interrupts keep the tracker's (certified) bounds and set the status."""
    method_fn = get_method(method)
    try:
        with _sigterm_as_interrupt():
            status, message = method_fn(problem, tracker, options)
    except InputError:
        raise  # a bad option or an unsupported query: the caller's mistake, not a solver failure
    except TimeUp as exc:
        return "time_limit", f"{exc}; the bounds are those certified before"
    except KeyboardInterrupt:
        status, message = "interrupted", "bounds found so far"
    except Exception as exc:  # noqa: BLE001 - solver errors, numerical trouble, memory
        return "error", (f"{method} failed: {exc.__class__.__name__}: {exc}; "
                         "the bounds are those certified before the failure")
    if status == "interrupted":
        cause = "terminated (SIGTERM)" if _Signals.terminated else "interrupted"
        message = f"{cause}: {message}" if message else cause
    return status, message


def _checked_witness(problem: Problem, tracker: Tracker) -> Optional[str]:
    """Re-check the witness from scratch; drop the lower bound (and say why) if it does not hold."""
    if tracker.witness is None:
        return None
    try:
        recheck(problem, tracker.witness)
        return None
    except AssertionError as exc:
        tracker.drop_lower()
        return f"a witness failed its float64 re-check ({exc}); its lower bound was dropped, please report this network"


def lipschitz(network: Any, domain: Optional[Domain] = None, p: object = 2, q: object = 2,
              output: object = None, method: str = "miqcqp", time_limit: float = 60.0,
              on_update: Optional[Callable[[Tracker], None]] = None,
              max_model_bytes: Optional[float] = None, **options: Any) -> Result:
    """Certified bounds on L(p, q, domain) of a ReLU network (path, Network or torch module).

    `output` selects a scalar output (an index or a weight vector c for c^T f); `domain` defaults to
    all of R^n. `max_model_bytes` caps the estimated memory (default: LIPMIQ_MAX_MODEL_BYTES or half
    the physical memory); larger queries are refused before anything is built. `options` are the
    method's (e.g. encoding="bigm", gap=1e-6, seed=0; `lipmiq.methods.method_options(name)` lists them):
    an unknown name or a bad value is an InputError, raised before any work.
    """
    limit = check_time_limit(time_limit)
    options = check_options(method, options)
    encoding = options.get("encoding", "quadratic")
    if isinstance(network, (str, os.PathLike)) and os.fspath(network).lower().endswith(".npz"):
        check_npz(os.fspath(network), method, encoding, max_model_bytes)  # headers only, before loading
    net = load(network)
    problem = make_problem(net, domain, p, q, output)
    enforce(problem.network.sizes, method, encoding, max_model_bytes, net.name)
    tracker = Tracker(limit, on_update)
    if problem.trivial:
        with tracker.stage("trivial"):
            tracker.offer_upper(0.0)
        status, message = "finished", "the domain is a single point: L = 0"
    else:
        status, message = _run_method(method, problem, tracker, options)
    failed = _checked_witness(problem, tracker)
    if failed is not None:
        status, message = "error", failed
    if tracker.lower > tracker.upper * (1 + CONSISTENCY_RTOL) + 1e-300:
        # A certified lower bound contradicts the upper one: the upper bound is wrong (numerical trouble).
        # Never report it; fall back to the product of layer norms, which is always valid.
        status = "error"
        message = (f"inconsistent bounds lower={tracker.lower!r} > upper={tracker.upper!r}: the solver's upper "
                   f"bound was dropped for the product of layer norms; please report this network")
        with tracker.stage("product"):
            tracker.replace_upper(max(naive_upper(problem, root_bounds(problem.network, problem.domain))[0],
                                      tracker.lower))
    # The one place a result's status is decided: optimal and gap_limit follow from the certified bounds.
    status = settle(status, tracker.lower, tracker.upper, options.get("gap"))
    return Result(
        lower=tracker.lower, upper=tracker.upper, status=status, method=method, p=problem.p,
        q=problem.q_requested, domain=problem.full_domain.to_dict(), output=output, options=options,
        time_s=tracker.elapsed(), witness=tracker.witness, history=tracker.history, message=message,
        stats=tracker.stats(),
    )
