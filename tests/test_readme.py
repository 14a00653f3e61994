"""The README cannot lie: its playbook example validates, and CI runs its test line."""

from __future__ import annotations

import re
from pathlib import Path

from mea_culpa.playbook.loading import loads

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_the_readme_playbook_example_validates():
    example = re.search(r"```yaml\n(.*?)```", README, re.S)
    assert example, "the README has a yaml example"
    book = loads(example.group(1), "README.md")
    assert book.id == "late-invoice" and [s.kind for s in book.stages] == ["facts", "own"]


def test_ci_runs_the_readme_test_line():
    script = (Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "<!-- test-line -->" in README and "/<!-- test-line -->/" in script
    line = README.split("<!-- test-line -->", 1)[1].split("\n")[2]
    assert line.startswith("python3 -m venv .venv && ") and line.endswith("pytest -q")
