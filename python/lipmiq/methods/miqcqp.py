"""The default method: naive and sampled bounds, pattern and region branch-and-bound on a share of the
time (they close small and mostly stable networks outright), then the MIQCQP search with SCIP."""
from __future__ import annotations

from typing import Tuple

from .. import options as opt
from ..formulation.plan import build_plan
from ..problem import Problem
from ..solvers.scip import Search
from ..tracker import Tracker
from .enumerate import pattern_search, region_search
from .naive import naive_upper
from .sample import sample_lower

OPTIONS = opt.Options(
    opt.encoding(),
    opt.tighten("lp"),
    opt.gap(),
    opt.seed(),
    opt.Option("region_share", opt.real(0.0, 1.0), 0.25,
               "share of the remaining time for the region branch-and-bound before SCIP (0 skips it)"),
    opt.Option("pattern_time", opt.real(0.0), 5.0, "seconds at most for the pattern branch-and-bound"),
)


def run(problem: Problem, tracker: Tracker, options: dict) -> Tuple[str, str]:
    with tracker.stage("product"):
        tracker.offer_upper(naive_upper(problem)[0])
    with tracker.stage("sampling"):
        sample_lower(problem, tracker, budget=min(1.0, 0.1 * tracker.remaining()), seed=options["seed"])
    if tracker.exact:
        return "optimal", "sampling met the product bound"
    with tracker.stage("patterns"):
        patterns = pattern_search(problem, tracker, min(options["pattern_time"], 0.2 * tracker.remaining()))
    if patterns == "optimal":
        return "optimal", "pattern branch-and-bound closed the gap (every pattern realisable or best pattern realised)"
    if options["region_share"] > 0.0:
        with tracker.stage("regions"):
            status, note = region_search(problem, tracker, options["region_share"] * tracker.remaining())
        if status == "optimal":
            return status, "region branch-and-bound closed the gap (" + note + ")"
    with tracker.stage("tightening"):
        plan = build_plan(problem, options["tighten"], min(20.0, 0.15 * tracker.remaining()))
    tracker.note(unstable_neurons=plan.n_unstable)
    search = Search(problem, plan, tracker, options["encoding"], options["gap"], options["seed"])
    with tracker.stage("scip"):
        return search.run()
