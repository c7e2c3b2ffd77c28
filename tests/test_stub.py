"""The type stub of the C++ core lists exactly what the core defines, with the same parameter names."""
import ast
import pathlib
import re

import lipmiq
import pytest
from lipmiq import _core

STUB = pathlib.Path(lipmiq.__file__).with_name("_core.pyi")


def _stub_signatures() -> dict:
    tree = ast.parse(STUB.read_text())
    return {node.name: [a.arg for a in node.args.args] for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.skipif(not STUB.exists(), reason="the stub ships beside the extension")
def test_stub_matches_the_core():
    stub = _stub_signatures()
    core = {name: obj for name, obj in vars(_core).items() if not name.startswith("_") and callable(obj) and name != "Net"}
    assert set(stub) == set(core)
    for name, obj in core.items():
        doc = obj.__doc__.splitlines()[0]
        params = re.match(rf"{name}\((.*)\) ->", doc).group(1)
        names = [p.split(":")[0].strip() for p in re.split(r",\s*(?![^\[]*\])", params) if p.strip()]
        assert stub[name] == names, name
    assert "class Net" in STUB.read_text()
