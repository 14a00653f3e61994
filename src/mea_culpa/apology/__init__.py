"""The apology check: score a text, name its missing components, and find non-apology phrases.

    from mea_culpa.apology import check_text, load_rules
    result = check_text("I'm sorry: we sent your order to the wrong address…")
    result.score, result.components, result.findings
    check_text("We are investigating slow logins.", kind="notice")  # not an apology

Rules are YAML data in `rules/`; see docs/apology-check.md for their format.

May import: the base modules (errors, yamlfile) only: the check knows nothing of playbooks,
sessions or the journal, so it scores any text.
"""

from mea_culpa.apology.components import COMPONENTS, TIPS, WEIGHTS
from mea_culpa.apology.engine import (
    AUDIENCES,
    BUILTIN_RULES_DIR,
    CATEGORIES,
    DEFAULT_MIN_SCORE,
    KINDS,
    LEVELS,
    PENALTY,
    CheckResult,
    Finding,
    Rule,
    RuleSet,
    Unless,
    check_text,
    is_apology,
    load_rules,
    validate_audience,
    validate_kind,
    verify_examples,
)

__all__ = [
    "AUDIENCES",
    "BUILTIN_RULES_DIR",
    "CATEGORIES",
    "COMPONENTS",
    "DEFAULT_MIN_SCORE",
    "KINDS",
    "LEVELS",
    "PENALTY",
    "TIPS",
    "WEIGHTS",
    "CheckResult",
    "Finding",
    "Rule",
    "RuleSet",
    "Unless",
    "check_text",
    "is_apology",
    "load_rules",
    "validate_audience",
    "validate_kind",
    "verify_examples",
]
