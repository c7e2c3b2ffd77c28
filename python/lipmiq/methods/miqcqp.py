"""The default method: naive and sampled bounds, pattern and region branch-and-bound on a share of the
time (they close small and mostly stable networks outright), then the MIQCQP search with SCIP."""
from __future__ import annotations

from typing import Tuple

from ..formulation.plan import build_plan
from ..problem import Problem
from ..solvers.scip import Search
from ..tracker import Tracker
from .enumerate import pattern_search, region_search
from .naive import naive_upper
from .sample import sample_lower

REGION_SHARE = 0.25  # of the remaining time, for the region branch-and-bound before SCIP


def run(problem: Problem, tracker: Tracker, options: dict) -> Tuple[str, str]:
    tracker.offer_upper(naive_upper(problem)[0])
    sample_lower(problem, tracker, budget=min(1.0, 0.1 * tracker.remaining()), seed=int(options.get("seed", 0)))
    if tracker.exact:
        return "optimal", "sampling met the product bound"
    if pattern_search(problem, tracker, min(float(options.get("pattern_time", 5.0)), 0.2 * tracker.remaining())) == "optimal":
        return "optimal", "pattern branch-and-bound closed the gap (every pattern realisable or best pattern realised)"
    share = float(options.get("region_share", REGION_SHARE))
    if share > 0.0:
        status, note = region_search(problem, tracker, share * tracker.remaining())
        if status == "optimal":
            return status, "region branch-and-bound closed the gap (" + note + ")"
    plan = build_plan(problem, options.get("tighten", "lp"), min(20.0, 0.15 * tracker.remaining()))
    search = Search(problem, plan, tracker, options.get("encoding", "quadratic"),
                    float(options.get("gap", 1e-7)), int(options.get("seed", 0)))
    return search.run()
