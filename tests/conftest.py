"""Shared test setup and helpers: tests/ on sys.path (test modules import `conftest`, `netgen` and `oracles`,
never each other), the data of tests/data, the example network, the pipeline stages, the in-process CLI,
the hypothesis profiles, and `check_sound`, the soundness check of one query against the brute-force oracle."""
from __future__ import annotations

import json
import math
import pathlib
import sys
from typing import TYPE_CHECKING, Optional, Sequence, Tuple

import numpy as np
import pytest

TESTS_DIR = pathlib.Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from hypothesis import HealthCheck, assume, currently_in_test_context, note, settings  # noqa: E402
from oracles.bruteforce import (  # noqa: E402
    AmbiguousRegion,
    dual_norm,
    exact_opnorm,
    forward_pattern,
    in_domain,
    jacobian,
    load_npz,
    region_jacobians,
)

# lipmiq is imported where it is used, so that the oracle's own tests (test_bruteforce.py) never load it.
if TYPE_CHECKING:
    from lipmiq.domain import Domain

# Published exact values (LipBaB, ExLipBaB), copied from the shared manifest: the suite runs from the repository alone.
REFERENCE = json.loads((DATA_DIR / "reference.json").read_text())["queries"]
# The CLI tests' network: byte for byte the README's examples/iris.npz (4 inputs), read from tests/data so that
# a copy of tests/ alone runs against an installed lipmiq.
EXAMPLE = str(DATA_DIR / "lipbab_iris_4-5-5-3.npz")
# The two ways through the miqcqp method: the default stages, or SCIP alone (no region branch-and-bound, no
# gradient-bound engine, whose upper bound would let the pattern branch-and-bound close the gap before SCIP).
STAGES = {"default": {}, "scip": {"region_share": 0.0, "gradient_share": 0.0, "sdp_share": 0.0}}


def load_npz_network(name):
    """tests/data/<name>.npz (name with or without .npz) -> (weights, biases), float64
    lists [W0, W1, ...], [b0, b1, ...] with W_k of shape (out, in)."""
    return load_npz(DATA_DIR / (name if name.endswith(".npz") else name + ".npz"))


def run_cli(argv, capsys):
    """(exit code, stdout, stderr) of `lipmiq ...` run in-process."""
    from lipmiq.cli import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="session")
def data_dir():
    """pathlib.Path of tests/data."""
    return DATA_DIR


@pytest.fixture(scope="session")
def load_net():
    """Callable: network name in tests/data -> (weights, biases)."""
    return load_npz_network


@pytest.fixture(params=sorted(STAGES))
def stage(request):
    """The lipschitz options of one stage of STAGES (each test runs once per stage)."""
    return STAGES[request.param]


# Hypothesis profiles (tests/test_fuzz.py): "ci" is the default, bounded for the 15-minute suite;
# "long" is the nightly run: `pytest -m fuzz --hypothesis-profile long` (the plugin loads it).
settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.register_profile("long", max_examples=2000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.load_profile("ci")


# --- the soundness check of one query against the brute-force oracle -----------------------------------

INF = math.inf
SOLVE_LIMIT = 4.0        # seconds per solve; a time-limited result must still be sound
TRUTH_RTOL = 1e-9        # float64 rounding between the oracle's and lipmiq's Jacobian norms
# ... plus an absolute term at the rounding level of the network's magnitude: folding c into W_L (c^T W_L,
# with FMA) and the oracle's c^T J round differently, e.g. 9e-17 vs an exact 0 (found by the long profile).
ROUNDING_ATOL = 1e-12
# exact (gap <= 1e-6 relative) plus the dual-bound inflation (2e-7) and SCIP's gap (1e-7)
EXACT_RTOL = 2e-6


def oracle_regions(weights, biases, odom, p, q, c) -> Tuple[float, set]:
    """(exact L, set of full-dimensional patterns) from the brute-force enumeration."""
    best, patterns = 0.0, set()
    for pattern, J in region_jacobians(weights, biases, odom, c):
        patterns.add(tuple(tuple(bool(v) for v in g) for g in pattern))
        best = max(best, dual_norm(J[0], p) if c is not None else exact_opnorm(J, p, q))
    return float(best), patterns


def magnitude(weights, c) -> float:
    """(||c||_1 or 1) * prod ||W_k||_F: bounds every Jacobian entry; float64 rounding is relative to it."""
    out = float(np.sum(np.abs(c))) if c is not None else 1.0
    for W in weights:
        out *= float(np.linalg.norm(W))
    return out


def check_witness_independently(weights, biases, odom, p, q, c, witness, lower: float, patterns: set,
                                atol: float = 0.0) -> None:
    """x in the domain, its forward-pass pattern is the witness pattern and an oracle region,
    v moves only free coordinates, and ||J v||_q / ||v||_p >= lower."""
    x, v = np.asarray(witness.x, float), np.asarray(witness.v, float)
    assert in_domain(x, odom), f"witness x={x} outside {odom}"
    pattern = forward_pattern(weights, biases, x)
    assert all(np.array_equal(g, np.asarray(h, bool)) for g, h in zip(pattern, witness.pattern)), \
        "witness pattern is not the pattern at x"
    assert tuple(tuple(bool(t) for t in g) for g in pattern) in patterns, \
        "witness pattern is not a full-dimensional region of the oracle"
    if odom[0] == "box":
        assert np.all(v[odom[1] == odom[2]] == 0), "witness direction moves a fixed coordinate"
    J = jacobian(weights, pattern, c)
    nv = float(np.linalg.norm(v, ord=p))
    assert nv > 0
    qn = INF if c is not None else q
    value = float(np.linalg.norm(J @ v, ord=qn)) / nv
    assert value >= lower * (1 - 1e-9) - atol, f"witness value {value} < lower {lower}"


def check_sound(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], domain: Optional[Domain],
                p: float, q: float, output=None, time_limit: float = SOLVE_LIMIT, **options):
    """Run lipschitz and assert every soundness property against the oracle; returns (result, truth)."""
    from lipmiq import Global, Network, lipschitz
    from lipmiq.certify.witness import recheck
    from lipmiq.problem import make_problem
    from netgen import oracle_domain

    weights = [np.asarray(W, float) for W in weights]
    biases = [np.asarray(b, float) for b in biases]
    net = Network(weights, biases)
    domain = Global() if domain is None else domain
    odom = oracle_domain(domain, net.input_dim)
    c = None
    if output is not None:
        c = np.eye(net.output_dim)[output] if isinstance(output, int) else np.asarray(output, float)
    try:
        truth, patterns = oracle_regions(weights, biases, odom, p, q, c)
    except AmbiguousRegion:
        if currently_in_test_context():
            assume(False)  # the oracle cannot decide a region of inradius ~1e-9: no ground truth
        raise
    res = lipschitz(net, domain, p, q, output=output, time_limit=time_limit, **options)
    if currently_in_test_context():
        note(f"result {res}; truth {truth!r}; message {res.message}")
    atol = ROUNDING_ATOL * magnitude(weights, c)
    tol = TRUTH_RTOL * truth + atol
    assert res.status != "error", res.message
    assert res.lower <= truth + tol, f"lower {res.lower!r} > truth {truth!r}"
    assert res.upper >= truth - tol, f"upper {res.upper!r} < truth {truth!r}"
    if res.exact:
        assert abs(res.upper - truth) <= EXACT_RTOL * max(1.0, truth) + atol, f"exact claimed: {res.upper!r} vs {truth!r}"
    if res.lower > 0:
        assert res.witness is not None
        problem = make_problem(net, domain, p, q, output)
        assert recheck(problem, res.witness) >= res.lower * (1 - 1e-12)
        check_witness_independently(weights, biases, odom, p, q, c, res.witness, res.lower, patterns, atol)
    return res, truth
