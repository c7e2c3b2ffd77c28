"""Region LPs (lipmiq.certify.regions): interior points, and emptiness verdicts that must be proofs.

A region is declared empty only when a dual bound, checked in float64 with a rounding allowance or in
exact rational arithmetic, shows that no ball fits in it; thin but real regions must never be."""
import math

import numpy as np
import pytest
from lipmiq import Ball, Box, Global, Network
from lipmiq.certify.regions import empty_interior, interior_point, region_lp
from lipmiq.problem import make_problem

INF = math.inf


def sliver(delta):
    """z1 = x1 + x2, z2 = x1 + (1 + delta) x2, z3 = x1 - x2: the pattern (1, 0, 1) is a sliver of width
    about delta |x2| below x2 = 0 (delta > 0), a line (delta = 0), or nothing (delta < 0)."""
    W = [np.array([[1.0, 1.0], [1.0, 1.0 + delta], [1.0, -1.0]]), np.array([[5.0, -5.0, 1.0]])]
    return Network(W, [np.zeros(3), np.zeros(1)])


PATTERN = [np.array([1, 0, 1], dtype=np.uint8)]
DOMAINS = [Box(-1, 1), Ball([0.0, 0.0], 1.0, INF), Ball([0.0, 0.0], 1.0, 1), Global()]


@pytest.mark.parametrize("domain", DOMAINS, ids=["box", "ball-inf", "ball-1", "global"])
@pytest.mark.parametrize("delta", [1e-9, 1e-12])
def test_thin_real_region_is_never_declared_empty(domain, delta):
    """HiGHS's margin for these slivers is within its tolerances of 0 (it once returned s <= 0 and the
    enumeration pruned the region whose slope 7.21 is L); the verdict must be 'not proved empty'."""
    problem = make_problem(sliver(delta), domain, 2, 2)
    assert not empty_interior(problem, PATTERN)


@pytest.mark.parametrize("domain", DOMAINS, ids=["box", "ball-inf", "ball-1", "global"])
def test_face_and_empty_regions_are_proved_empty(domain):
    """delta = 0: the pattern's closure is the line x1 = -x2 (maximum margin exactly 0, a degenerate LP
    whose proof needs exact duals); delta = -0.5: no point at all."""
    for delta in (0.0, -0.5):
        problem = make_problem(sliver(delta), domain, 2, 2)
        x, s, empty = region_lp(problem, PATTERN)
        assert x is None and s <= 1e-9 and empty, (delta, s)


@pytest.mark.parametrize("domain", DOMAINS, ids=["box", "ball-inf", "ball-1", "global"])
def test_interior_point_is_inside_the_region_and_the_domain(domain):
    problem = make_problem(sliver(0.5), domain, 2, 2)
    for pattern in ([np.array([1, 1, 1], np.uint8)], [np.array([0, 0, 0], np.uint8)]):
        x, s = interior_point(problem, pattern)
        assert x is not None and s > 1e-9
        z = problem.network.weights[0] @ x
        assert np.all((z > 0) == pattern[0].astype(bool)) and np.all(np.abs(z) > 0)
        assert isinstance(domain, Global) or domain.contains(x)


def test_a_reused_model_whose_clock_passed_the_time_left_still_solves():
    """The one-shot region LPs share one HiGHS model per thread, and HiGHS's time limit counts its run time over all
    solves: a model that has run longer than the time a query has left must still solve that query's LP (review
    finding: it returned time_limit at once, so witnesses and emptiness proofs were lost)."""
    import time

    from lipmiq.solvers.highs import run, scratch_highs

    problem = make_problem(sliver(0.5), Box(-1, 1), 2, 2)
    pattern = [np.array([1, 1, 1], np.uint8)]
    while scratch_highs().getRunTime() < 0.05:  # the thread's model has run 50 ms in all
        interior_point(problem, pattern)
    x, s = interior_point(problem, pattern, deadline=time.perf_counter() + 0.04)
    assert x is not None and s > 1e-9
    run(scratch_highs(), time.perf_counter() + 0.04)  # the limit is on the model's clock, not below it
    assert scratch_highs().getOptionValue("time_limit")[1] > scratch_highs().getRunTime()
