"""The fixture playbook that reads every vocabulary id (a flower shop sent orders to old
addresses), shared by the drafting and the export tests."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from mea_culpa.playbook import answers as answers_mod
from mea_culpa.playbook.loading import load
from mea_culpa.playbook.model import Playbook

FIXTURE = Path(__file__).parent / "data" / "messages"
DROP = object()  # example(step=DROP): leave that answer out


@lru_cache(maxsize=1)
def fixture_playbook() -> Playbook:
    return load(FIXTURE / "playbook.yaml")


def example(**changes: Any) -> dict[str, Any]:
    """The example answers, with `changes` (DROP removes one)."""
    values = {**answers_mod.load_file(FIXTURE / "answers.yaml"), **changes}
    return {k: v for k, v in values.items() if v is not DROP}
