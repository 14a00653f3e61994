"""The package passes `mypy --strict` (configured in pyproject.toml), so the types in
signatures are claims that something checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_package_type_checks_strictly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    # mypy comes with the test extra: pip install -e '.[test]'
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout
