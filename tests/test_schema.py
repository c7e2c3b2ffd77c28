"""Every CLI subcommand's JSON output validates against the shipped JSON Schema (lipmiq/result.schema.json),
parsed strictly (no Infinity/NaN tokens). Needs jsonschema (the `test` extra); skipped without it."""
import json
import os
from importlib import resources

import numpy as np
import pytest
from lipmiq.cli import main

jsonschema = pytest.importorskip("jsonschema")

NET = os.path.join(os.path.dirname(__file__), "data", "lipbab_iris_4-5-5-3.npz")  # 4 inputs, 3 outputs; tests/ alone suffices
SCHEMA = json.loads((resources.files("lipmiq") / "result.schema.json").read_text())


def validator(definition=None):
    schema = SCHEMA if definition is None else {"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{definition}"}
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def strict(text):
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(text, parse_constant=refuse)


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize("args", [
    ["--box", "0", "1", "--time-limit", "10"],
    ["--box", "0", "1", "--region-share", "0", "--gap", "0.5", "--time-limit", "10"],
    ["--global", "--method", "naive"],
    ["--global", "--method", "sample", "--time-limit", "1"],                        # upper unbounded: null
    ["--center", "0.5,0.5,0.5,0.5", "--radius", "0.1", "--method", "enumerate", "-p", "inf", "-q", "1"],
    ["--box", "0", "1", "--method", "milp", "-p", "1", "--margin", "0", "2", "--time-limit", "10"],
    ["--box", "0", "1", "--output", "1", "--method", "enumerate"],
    ["--box", "0.5", "0.5", "--method", "naive"],                                   # a single point
])
def test_bound_json_matches_the_schema(args, tmp_path, capsys):
    history = tmp_path / "history.json"
    data = strict(run(["bound", NET, "--json", "--history", str(history)] + args, capsys))
    validator().validate(data)
    validator("history_file").validate(strict(history.read_text()))


def test_lipsdp_json_matches_the_schema(capsys):
    validator().validate(strict(run(["bound", NET, "--box", "0", "1", "--method", "lipsdp", "--json"], capsys)))


def test_radius_and_monotone_json_match_the_schema(capsys):
    radius = strict(run(["radius", NET, "--center", "0.5,0.5,0.5,0.5", "-p", "inf", "--time-limit", "3",
                         "--max-rounds", "2", "--json"], capsys))
    validator("radius").validate(radius)
    assert radius["rounds"][0][0] is None  # the first round uses global bounds
    mono = strict(run(["monotone", NET, "--output", "0", "--input", "1", "--box", "0", "1", "--time-limit", "5",
                       "--json"], capsys))
    validator("monotone").validate(mono)


def test_batch_lines_match_the_schema(tmp_path, capsys):
    points = tmp_path / "points.npy"
    np.save(points, np.array([[0.5, 0.5, 0.5, 0.5], [0.2, 0.4, 0.6, 0.8]]))
    out = run(["batch", NET, str(points), "--radius", "0.05", "--time-limit", "5", "--workers", "1", "--json"],
              capsys)
    lines = [strict(line) for line in out.splitlines()]
    assert len(lines) == 2
    for line in lines:
        validator("batch_line").validate(line)
    code = main(["batch", NET, str(points), "--radius", "0.05", "--method", "milp", "-p", "2", "--workers", "1"])
    out, _ = capsys.readouterr()
    assert code == 2
    for line in out.splitlines():
        refused = strict(line)
        validator("batch_line").validate(refused)
        assert refused["error_kind"] == "input"


@pytest.mark.parametrize("change", [
    lambda d: d.update(upper="inf"),                       # infinities are null, not strings
    lambda d: d.update(p=2),                               # norms are strings
    lambda d: d.update(status="solved"),                   # only the documented statuses
    lambda d: d["stats"].update(closed_by="magic"),        # only the documented stages
    lambda d: d.pop("versions"),
])
def test_the_schema_refuses_what_the_conventions_forbid(change, capsys):
    data = strict(run(["bound", NET, "--box", "0", "1", "--method", "naive", "--json"], capsys))
    validator().validate(data)
    change(data)
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(data)
