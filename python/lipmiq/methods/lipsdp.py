"""LipSDP-Neuron (Fazlyab et al. 2019), solved and certified by `lipmiq.sdp`, and its branch-and-bound.

`method="lipsdp"` is the published baseline: a global l2 bound from all slopes in [0, 1], biases and
domain unused; with `branch` it branches on slopes from the domain's stable ones, leaves decided on the
domain. The default pipeline offers `sdp_root` on the domain's stable slopes (a local bound) and, where it
beats the gradient-bound engine's, branches with it (`sdp_branch` on R^n, node bounds in the engine's
search elsewhere: `methods.miqcqp`).
"""
from __future__ import annotations

import math
import time
from typing import Callable, List, Optional, Tuple

import numpy as np

from .. import options as opt
from ..bounds import root_bounds
from ..bounds.jacobian import pattern_norm
from ..bounds.network_bounds import NetworkBounds
from ..certify.witness import decide_region
from ..domain import Global
from ..errors import InputError
from ..norms import norm_name
from ..problem import Problem
from ..sdp import search
from ..sdp.model import FREE
from ..tracker import Tracker


def applies(problem: Problem) -> bool:
    """LipSDP bounds the l2 -> l2 constant; a scalar output makes every q the same."""
    return problem.p == 2.0 and (problem.network.output_dim == 1 or problem.q == 2.0)


def check_query(problem: Problem) -> None:
    if not applies(problem):
        raise InputError(f"method 'lipsdp' bounds p = q = 2 (or p = 2 with a scalar output); got "
                         f"p = {norm_name(problem.p)}, q = {norm_name(problem.q_requested)}")


def slopes_of(problem: Problem, bounds: Optional[NetworkBounds]) -> List[np.ndarray]:
    """Slope codes per hidden layer: fixed where `bounds` prove the neuron stable, free elsewhere."""
    if bounds is None:
        return [np.full(n, FREE, dtype=np.int8) for n in problem.network.hidden_sizes]
    return [np.where(s == 1, 1, np.where(s == -1, 0, FREE)).astype(np.int8) for s in bounds.stability()]


def _instance(problem: Problem) -> search.Instance:
    return search.Instance.of([np.asarray(W, dtype=np.float64) for W in problem.network.weights])


def sdp_root(problem: Problem, tracker: Tracker, bounds: Optional[NetworkBounds], time_limit: float) -> search.Node:
    """LipSDP on the slopes `bounds` leave free (all of them without bounds), within `time_limit` seconds;
    its bound is offered to the tracker."""
    deadline = min(tracker.deadline, time.perf_counter() + max(time_limit, 0.0))
    node = search.root(_instance(problem), slopes_of(problem, bounds), deadline)
    tracker.offer_upper(node.bound)
    return node


def sdp_branch(problem: Problem, tracker: Tracker, node: search.Node, time_limit: float) -> Tuple[bool, str]:
    """The slope branch-and-bound from `node` for `time_limit` seconds, offering its bounds to the tracker;
    its single-pattern leaves are decided by the exact region LP (a region gives a witness)."""
    deadline = min(tracker.deadline, time.perf_counter() + max(time_limit, 0.0))
    return search.branch_and_bound(node, deadline, tracker.offer_upper, lambda: tracker.lower,
                                   _region_verdict(problem, tracker))


def _region_verdict(problem: Problem, tracker: Tracker) -> Callable[[List[np.ndarray]], str]:
    """A fully fixed slope set's pattern: 'region' (its region LP found an interior point: the witness there
    is offered), 'empty' (proved to have no interior in the domain) or 'undecided'."""
    def verdict(slopes: List[np.ndarray]) -> str:
        pattern = [(s == 1).astype(np.uint8) for s in slopes]
        value, _, v = pattern_norm(problem.network, pattern, problem.p, problem.q)
        exists, witness, _ = decide_region(problem, pattern, v, value, tracker.lower, tracker.deadline)
        tracker.offer_lower(witness)
        return {True: "region", False: "empty", None: "undecided"}[exists]
    return verdict


OPTIONS = opt.Options(
    opt.Option("branch", opt.flag, False,
               "branch on slopes after the bound (a branch-and-bound below LipSDP; off: the published bound)"),
)


def run(problem: Problem, tracker: Tracker, options: dict) -> Tuple[str, str]:
    check_query(problem)
    # branching works on the domain (its leaves are its regions), so it starts from the domain's stable slopes
    bounds = root_bounds(problem.network, problem.domain, tracker.deadline) if options["branch"] else None
    with tracker.stage("sdp"):
        node = sdp_root(problem, tracker, bounds, tracker.remaining())
    complete, note = False, "LipSDP-Neuron, certified in float64"
    if options["branch"] and math.isfinite(node.bound):
        with tracker.stage("sdp_bab"):
            complete, note = sdp_branch(problem, tracker, node, tracker.remaining())
    if not isinstance(problem.domain, Global) and not options["branch"]:  # branching decides leaves on the domain
        note += ("; the bound is global (LipSDP uses neither biases nor the domain): valid on this "
                 f"{type(problem.domain).__name__.lower()} as on all of R^n, not tightened to it")
    if not math.isfinite(tracker.upper):
        return "error", note
    return ("optimal" if tracker.exact else "finished" if complete or not options["branch"] else "time_limit"), note
