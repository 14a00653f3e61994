"""The apology check measured on a labelled corpus of apologies written for this project.

An apology counts as acceptable when its score is at least 60 (the CLI's default
--min-score) and it has no error-level finding: `CheckResult.passes()`. The issue's bars:
acceptable and unacceptable told apart at least 90% of the time; the anti-pattern
categories a reader labelled found at least 80% of the time; and a warning or an error on
at most 10% of the acceptable apologies.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from mea_culpa.apology import AUDIENCES, CATEGORIES, DEFAULT_MIN_SCORE, CheckResult, check_text

CORPUS = Path(__file__).parent / "data" / "apology" / "corpus.yaml"
SITUATIONS = {"outage", "marketing", "order", "colleague", "recipient", "deadline", "general"}


@lru_cache(maxsize=1)
def corpus() -> list[dict[str, Any]]:
    return yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["items"]


@lru_cache(maxsize=1)
def checked() -> list[tuple[dict[str, Any], CheckResult]]:
    return [(item, check_text(item["text"], item["audience"])) for item in corpus()]


def describe(item: dict[str, Any], result: CheckResult) -> str:
    found = ", ".join(f"{f.level} {f.rule} {f.match!r}" for f in result.findings) or "no findings"
    return f"{item['id']}: score {result.score}; {found}"


def test_the_corpus_is_large_balanced_and_covers_every_situation():
    items = corpus()
    assert len(items) >= 40
    acceptable = sum(item["acceptable"] for item in items)
    assert abs(acceptable - (len(items) - acceptable)) <= len(items) // 10, "about half acceptable"
    assert {item["situation"] for item in items} == SITUATIONS
    assert len({item["id"] for item in items}) == len(items)
    for item in items:
        assert item["audience"] in AUDIENCES
        if item["acceptable"]:
            assert not item.get("categories"), item["id"]
        else:
            assert item["categories"] and set(item["categories"]) <= set(CATEGORIES), item["id"]


def test_acceptable_and_unacceptable_apologies_are_told_apart_at_least_90_percent():
    wrong = [describe(i, r) for i, r in checked() if r.passes(DEFAULT_MIN_SCORE) != i["acceptable"]]
    accuracy = 1 - len(wrong) / len(checked())
    assert accuracy >= 0.90, f"accuracy {accuracy:.2f}; told apart wrongly:\n" + "\n".join(wrong)


def test_the_labelled_anti_patterns_are_found_at_least_80_percent():
    labelled = found = 0
    missed = []
    for item, result in checked():
        categories = {f.category for f in result.findings}
        for category in item.get("categories") or ():
            labelled += 1
            if category in categories:
                found += 1
            else:
                missed.append(f"{category} in {describe(item, result)}")
    recall = found / labelled
    assert recall >= 0.80, f"recall {recall:.2f}; missed:\n" + "\n".join(missed)


def test_acceptable_apologies_get_a_warning_or_error_at_most_10_percent():
    acceptable = [(i, r) for i, r in checked() if i["acceptable"]]
    alarmed = [describe(i, r) for i, r in acceptable if any(f.level != "suggestion" for f in r.findings)]
    rate = len(alarmed) / len(acceptable)
    assert rate <= 0.10, f"false alarms {rate:.2f}:\n" + "\n".join(alarmed)


@pytest.mark.parametrize("audience", AUDIENCES)
def test_every_audience_is_represented_by_both_labels(audience):
    labels = {item["acceptable"] for item in corpus() if item["audience"] == audience}
    assert labels == {True, False}
