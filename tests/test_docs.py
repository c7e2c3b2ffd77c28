"""The documentation names what the code accepts and reports: every status, method option and stage."""
import json
import os
import re
from importlib import resources

import lipmiq
import pytest
from lipmiq.methods import METHODS, method_options

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)


def read(*parts):
    path = os.path.join(ROOT, *parts)
    if not os.path.isfile(path):
        pytest.skip(f"{path}: the documentation is not next to these tests")
    with open(path) as fh:
        return fh.read()


def test_every_status_is_documented():
    conventions, readme = read("docs", "conventions.md"), read("README.md")
    for status in lipmiq.STATUSES:
        assert f"| `{status}` |" in conventions, status
        assert f"`{status}`" in readme, status


def test_every_method_option_is_in_the_readme_table():
    readme = read("README.md")
    for method in METHODS:
        row = next((line for line in readme.splitlines() if line.strip().startswith(f"| `{method}`")), None)
        assert row is not None, method
        for option in method_options(method):
            assert f"`{option.name}`" in row, (method, option.name)


def test_every_stage_and_stats_field_is_documented():
    conventions = read("docs", "conventions.md")
    schema = json.loads((resources.files("lipmiq") / "result.schema.json").read_text())
    for stage in schema["$defs"]["stage"]["enum"]:
        assert f"`{stage}`" in conventions, stage
    for field in schema["$defs"]["stats"]["required"]:
        assert f"`{field}`" in conventions, field
    results = conventions.split("## Results")[1].split("### stats")[0]
    for field in schema["$defs"]["result"]["required"]:
        assert f"`{field}`" in results, field


def test_readme_links_the_conventions_in_the_repository():
    readme = read("README.md")
    assert "docs/conventions.md" in readme and "shared/CONVENTIONS" not in readme
    assert not re.search(r"(?<!docs/)CONVENTIONS\.md", readme)
