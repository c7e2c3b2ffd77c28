"""Property-based soundness of LipSDP with slopes (lipmiq.sdp) as the only upper-bound source: its root bound
on the slopes the domain leaves free, and every bound its branch-and-bound offers (single-pattern leaves
decided by region LPs, whose witnesses prune), against the brute-force oracle. The networks are the engine fuzz's degenerate ones (zeros, copied and opposite rows, dead neurons,
layers scaled by 1e-6 ... 1e6); domains are boxes, balls of each norm and R^n; p = 2 with q = 2 or a scalar
output (any q). Profiles as in tests/test_gradient_bounds_fuzz.py."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest
from conftest import oracle_regions
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st
from lipmiq import Network
from lipmiq.bounds import root_bounds
from lipmiq.methods.bab import gradient_search, root_bound
from lipmiq.methods.lipsdp import _region_verdict, sdp_root, slopes_of
from lipmiq.problem import make_problem
from lipmiq.sdp import search
from lipmiq.tracker import Tracker
from netgen import fuzz_domains, oracle_domain
from oracles.bruteforce import AmbiguousRegion
from test_gradient_bounds_fuzz import ORACLE_ATOL, ORACLE_RTOL, magnitude, networks

pytestmark = pytest.mark.fuzz

BRANCH_SECONDS = 0.2
CI_EXAMPLES = 25


def _examples() -> settings:
    budget = settings.default.max_examples
    return settings(max_examples=budget if budget >= 2000 else min(budget, CI_EXAMPLES), deadline=None)


def _query(data):
    """A fuzz network, domain and output with p = 2 (q = 2, or any q for a scalar output): the problem, and the
    brute-force constant with its rounding allowance."""
    weights, biases = data.draw(networks())
    n, m = weights[0].shape[1], weights[-1].shape[0]
    domain = data.draw(fuzz_domains(n))
    output = data.draw(st.sampled_from([None] + list(range(m))), label="output")
    q = 2.0 if output is None else data.draw(st.sampled_from([1.0, 2.0, math.inf]), label="q")
    problem = make_problem(Network(weights, biases), domain, 2.0, q, output)
    assume(not problem.trivial)
    try:
        truth, _ = oracle_regions(weights, biases, oracle_domain(domain, n), 2.0, q,
                                  None if output is None else np.eye(m)[output])
    except AmbiguousRegion:
        assume(False)  # a region of inradius ~1e-9: no ground truth
    return problem, truth, ORACLE_RTOL * truth + ORACLE_ATOL * magnitude(weights)


@given(data=st.data())
@_examples()
def test_sdp_bounds_are_sound(data):
    problem, truth, allowance = _query(data)
    W = [np.asarray(w, dtype=np.float64) for w in problem.network.weights]
    slopes = slopes_of(problem, root_bounds(problem.network, problem.domain, math.inf))
    node = search.root(search.Instance.of(W), slopes, math.inf)
    offered = [node.bound]
    tracker = Tracker(60.0)  # its lower bound (the leaves' witnesses) prunes, as in the pipeline
    search.branch_and_bound(node, time.perf_counter() + BRANCH_SECONDS, offered.append, lambda: tracker.lower,
                            _region_verdict(problem, tracker))
    note(f"truth {truth!r}, offered {offered!r}")
    assert min(offered) >= truth - allowance
    assert tracker.lower <= truth + allowance


@given(data=st.data())
@_examples()
def test_engine_branch_and_bound_with_sdp_node_bounds_is_sound(data):
    """The engine's branch-and-bound with LipSDP bounding its nodes (as the pipeline runs it for p = 2): every
    upper bound it offers (tracker history) and its lower bound bracket the brute-force constant."""
    problem, truth, allowance = _query(data)
    tracker = Tracker(BRANCH_SECONDS + 5.0)
    engine = root_bound(problem, tracker, 1.0)
    sdp = sdp_root(problem, tracker, root_bounds(problem.network, problem.domain, math.inf), 1.0)
    gradient_search(problem, tracker, BRANCH_SECONDS, engine, sdp)
    note(f"truth {truth!r}, history {tracker.history!r}")
    assert all(upper >= truth - allowance for _, _, upper in tracker.history)
    assert tracker.lower <= truth + allowance
