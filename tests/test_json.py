"""Strict JSON everywhere (no Infinity/NaN tokens; an infinite bound is null; numbers stay numbers; p and q
are the strings "1", "2", "inf") and the versions of lipmiq, SCIP and HiGHS in every result."""
import json
import math
import os
import re
from importlib import metadata

import lipmiq
import numpy as np
import pytest
from lipmiq.cli.progress import read_history, write_history

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)
NET = os.path.join(os.path.dirname(__file__), "data", "lipbab_iris_4-5-5-3.npz")  # 4 inputs, 3 outputs; tests/ alone suffices


def strict(text):
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(text, parse_constant=refuse)


def test_infinite_upper_is_null_and_numbers_stay_numbers():
    res = lipmiq.lipschitz(NET, lipmiq.Box(0, 1), p=1, q="inf", output=np.array([1.0, -1.0, 0.0]),
                           method="sample", time_limit=2)
    assert math.isinf(res.upper)
    data = strict(res.to_json())
    assert data["upper"] is None and isinstance(data["lower"], float) and data["lower"] > 0
    assert data["p"] == "1" and data["q"] == "inf"
    assert data["output"] == [1.0, -1.0, 0.0] and all(isinstance(c, float) for c in data["output"])
    assert all(row[2] is None for row in data["history"])  # the trace's upper bound is unbounded throughout
    assert data == res.to_dict()  # to_dict is the document itself


def test_numpy_output_index_and_norms_are_plain():
    res = lipmiq.lipschitz(NET, lipmiq.Box(0, 1), p=np.float64(2), q=2, output=np.int64(1), method="naive")
    data = strict(res.to_json())
    assert data["output"] == 1 and data["p"] == "2" and data["q"] == "2"


def test_history_file_round_trip_with_an_unbounded_upper(tmp_path):
    path = tmp_path / "h.json"
    write_history(str(path), [[0.0, 0.5, math.inf], [1.0, 0.75, 2.0]])
    assert strict(path.read_text()) == [[0.0, 0.5, None], [1.0, 0.75, 2.0]]
    assert read_history(str(path)) == [[0.0, 0.5, math.inf], [1.0, 0.75, 2.0]]


def test_versions_in_every_result():
    declared = metadata.version("lipmiq")
    pyproject = os.path.join(ROOT, "pyproject.toml")
    if os.path.isfile(pyproject):  # in the repository: the one source of the version
        assert re.search(r'^version = "([^"]+)"', open(pyproject).read(), re.M).group(1) == declared
    assert lipmiq.__version__ == declared
    from pyscipopt import Model

    scip = Model().version()  # e.g. 10.0 (major.minor)
    res = lipmiq.lipschitz(NET, lipmiq.Box(0, 1), method="naive")
    mono = lipmiq.monotonicity(NET, lipmiq.Box(0, 1), output=0, input=0, time_limit=5)
    radius = lipmiq.certified_radius(NET, [0.5] * 4, p="inf", time_limit=2, max_rounds=1)
    for doc in (res.to_dict(), mono.to_dict(), radius.to_dict()):
        v = doc["versions"]
        assert v["lipmiq"] == declared
        assert float(".".join(v["scip"].split(".")[:2])) == pytest.approx(scip)
        assert v["highs"].split(".")[:2] == metadata.version("highspy").split(".")[:2]
