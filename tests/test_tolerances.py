"""docs/reliability.md's tolerance table is the module lipmiq/tolerances.py: one row per constant, same
name and value, the constant's own docstring as the reason (regenerate with `python tests/test_tolerances.py`)."""
import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODULE = ROOT / "python" / "lipmiq" / "tolerances.py"
DOC = ROOT / "docs" / "reliability.md"
START, END = "<!-- tolerances:start -->", "<!-- tolerances:end -->"
pytestmark = pytest.mark.skipif(not MODULE.exists(), reason="needs the repository checkout (docs/, python/)")


def table() -> str:
    """The Markdown table of every constant of tolerances.py (name, value as written, docstring)."""
    src = MODULE.read_text()
    body = ast.parse(src).body
    rows = ["| tolerance (`lipmiq.tolerances`) | value | what it allows for |", "|---|---|---|"]
    for node, after in zip(body, body[1:] + [None]):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            doc = after.value.value if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) else ""
            assert doc, f"{node.targets[0].id} has no docstring giving its reason"
            reason = " ".join(doc.split()).replace("|", "\\|")  # a literal bar inside a table cell
            rows.append(f"| `{node.targets[0].id}` | `{ast.get_source_segment(src, node.value)}` | {reason} |")
    return "\n".join(rows)


def test_docs_table_is_the_module():
    text = DOC.read_text()
    assert START in text and END in text
    documented = text[text.index(START) + len(START):text.index(END)].strip()
    assert documented == table(), "docs/reliability.md's tolerance table is stale: run python tests/test_tolerances.py"


def test_every_constant_is_used():
    """A tolerance no module reads is dead: the table would document an allowance that is not applied."""
    import lipmiq.tolerances as tol

    sources = "\n".join(p.read_text() for p in (ROOT / "python" / "lipmiq").rglob("*.py") if p != MODULE)
    unused = [name for name in vars(tol) if name.isupper() and name not in sources]
    assert not unused, unused


if __name__ == "__main__":
    text = DOC.read_text()
    head, rest = text.split(START)
    _, tail = rest.split(END)
    DOC.write_text(f"{head}{START}\n{table()}\n{END}{tail}")
    sys.exit(0)
