"""Shared test setup: make tests/ importable (``from bruteforce import ...``) and load
the small reference networks in tests/data/*.npz."""

import json
import pathlib
import sys

import pytest

TESTS_DIR = pathlib.Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))
# Published exact values (LipBaB, ExLipBaB), copied from the shared manifest: the suite runs from the repository alone.
REFERENCE = json.loads((DATA_DIR / "reference.json").read_text())["queries"]


def load_npz_network(name):
    """tests/data/<name>.npz (name with or without .npz) -> (weights, biases), float64
    lists [W0, W1, ...], [b0, b1, ...] with W_k of shape (out, in)."""
    from oracles.bruteforce import load_npz

    return load_npz(DATA_DIR / (name if name.endswith(".npz") else name + ".npz"))


@pytest.fixture(scope="session")
def data_dir():
    """pathlib.Path of tests/data."""
    return DATA_DIR


@pytest.fixture(scope="session")
def load_net():
    """Callable: network name in tests/data -> (weights, biases)."""
    return load_npz_network


# Hypothesis profiles (tests/test_fuzz.py): "ci" is the default, bounded for the 15-minute suite;
# "long" is the nightly run: `pytest -m fuzz --hypothesis-profile long` (the plugin loads it).
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.register_profile("long", max_examples=2000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.load_profile("ci")
