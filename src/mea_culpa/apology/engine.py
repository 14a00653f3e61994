"""The apology check engine: load rules from YAML, find anti-patterns, score a text.

Pure: it never prints, and it raises only `mea_culpa.errors` exceptions. PyYAML is imported
only when rule files are read, and the built-in rules are read once per process. A rule's
patterns are read when its file is (to report every unfit one), but compiled only for a
text, and only as far as that text can match them (patterns.py).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from mea_culpa import errors
from mea_culpa.apology import components
from mea_culpa.apology.patterns import PatternSet, compile_patterns
from mea_culpa.apology.text import Document

AUDIENCES = ("customer", "internal", "personal")
LEVELS = ("suggestion", "warning", "error")
CATEGORIES = (
    "conditional",
    "passive",
    "feelings",
    "minimizing",
    "justification",
    "blame",
    "regret-only",
    "overpromise",
    "padding",
    "jargon",
    "self-focus",
    "pressure",
    "voice",
)
# What a text is meant as. An apology is scored on the seven parts for its audience; a
# notice (a status update, a public post, a request, an internal note that reports) is
# not an apology, so missing parts are no fault in it: it is checked for the phrases only.
KINDS = ("apology", "notice")
# Categories that judge an apology as an apology, so they do not apply to a notice.
_APOLOGY_ONLY = frozenset({"regret-only"})

# What one finding costs. An error is the kind of phrase that by itself spoils an apology
# (Lazare: "if" or "but"); a warning weakens it; a suggestion is a matter of polish.
PENALTY = {"error": 25, "warning": 10, "suggestion": 3}
# A rule repeated in one text is one habit: it costs at most this many findings.
MAX_COUNTED_PER_RULE = 2
MAX_PENALTY = 60
# The bar `passes()` uses unless told otherwise; also the CLI's --min-score default.
DEFAULT_MIN_SCORE = 60

BUILTIN_RULES_DIR = Path(__file__).resolve().parent / "rules"

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_RULE_KEYS = (
    "id",
    "category",
    "level",
    "patterns",
    "message",
    "suggestion",
    "rationale",
    "exceptions",
    "unless",
    "audiences",
    "once",
    "at_least",
    "case_sensitive",
    "examples",
)
_REQUIRED_KEYS = ("id", "category", "level", "patterns", "message")
_UNLESS_KEYS = ("component", "sentence", "text")
# What a rule that failed to read matches: nothing (it is never applied).
_NOTHING = PatternSet(())


@dataclass(frozen=True, slots=True)
class Finding:
    """One anti-pattern found in a text, with where it stands (1-based line and column)."""

    rule: str
    category: str
    level: str
    line: int
    column: int
    match: str
    message: str
    suggestion: str
    start: int  # character offsets into the text, end exclusive
    end: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a finding."""
        return {
            "rule": self.rule,
            "category": self.category,
            "level": self.level,
            "line": self.line,
            "column": self.column,
            "match": self.match,
            "message": self.message,
            "suggestion": self.suggestion,
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What the check found in one text."""

    score: int
    components: dict[str, bool]
    findings: tuple[Finding, ...]
    audience: str
    tips: tuple[str, ...]  # one line per missing component that counts for the audience
    kind: str = "apology"  # what the text was checked as (KINDS)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a result: score, components and findings."""
        return {
            "score": self.score,
            "components": dict(self.components),
            "findings": [finding.to_dict() for finding in self.findings],
        }

    @property
    def has_errors(self) -> bool:
        return any(finding.level == "error" for finding in self.findings)

    def passes(self, min_score: int = DEFAULT_MIN_SCORE) -> bool:
        """Whether the text clears the bar: score at least `min_score` and no error finding."""
        return self.score >= min_score and not self.has_errors


@dataclass(frozen=True, slots=True)
class Unless:
    """Conditions that switch a rule off for one match or for the whole text."""

    components: tuple[str, ...] = ()  # the text shows any of these components
    sentence: PatternSet | None = field(default=None, compare=False)  # the match's sentence contains this
    text: PatternSet | None = field(default=None, compare=False)  # the text contains this anywhere
    # The patterns `sentence` and `text` are read from, as written.
    sentence_patterns: tuple[str, ...] = ()
    text_patterns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    """One anti-pattern rule, as read from a YAML file."""

    id: str
    category: str
    level: str
    patterns: tuple[str, ...]
    message: str
    suggestion: str = ""
    rationale: str = ""
    exceptions: tuple[str, ...] = ()
    unless: Unless = field(default_factory=Unless)
    audiences: tuple[str, ...] = AUDIENCES
    once: bool = False
    at_least: int = 1  # reported only when it matches in this many sentences, at the last of them
    case_sensitive: bool = False
    examples_fail: tuple[str, ...] = ()
    examples_pass: tuple[str, ...] = ()
    source: str = ""  # "file:line" where the rule is defined
    matcher: PatternSet = field(default=_NOTHING, compare=False, repr=False)  # `patterns`, read
    exception_matcher: PatternSet | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rules a check applies, in a stable order."""

    rules: tuple[Rule, ...]

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.rules)

    def get(self, rule_id: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.id == rule_id), None)


def check_text(
    text: str, audience: str = "customer", rules: RuleSet | None = None, kind: str = "apology"
) -> CheckResult:
    """Score a text and find its anti-patterns. Linear in the length of the text.

    `kind` says what the text is meant as (see KINDS): an "apology" is scored on the seven
    parts an apology needs, less a penalty for each finding; a "notice" is no apology, so
    its score is 100 less the penalties, and it gets no tips for missing parts.
    """
    audience = validate_audience(audience)
    kind = validate_kind(kind)
    ruleset = rules if rules is not None else _builtin_ruleset()
    document = Document(text)
    present = components.detect(document, audience)
    findings: list[Finding] = []
    for rule in ruleset:
        if audience in rule.audiences and (kind == "apology" or rule.category not in _APOLOGY_ONLY):
            findings.extend(_apply(rule, document, present))
    findings.sort(key=lambda f: (f.start, f.end, f.rule))
    if kind == "apology":
        weights = components.weights(audience)
        earned = sum(weights[name] for name, shown in present.items() if shown)
        tips = components.tips(present, audience)
    else:
        earned, tips = 100, ()
    return CheckResult(
        score=max(0, min(100, earned - _penalty(findings))),
        components=present,
        findings=tuple(findings),
        audience=audience,
        tips=tips,
        kind=kind,
    )


def is_apology(text: str, audience: str = "customer") -> bool:
    """Whether a text reads as an apology: it says sorry or owns a fault. For a caller
    that does not know what a text is meant as; one that knows passes `kind`."""
    present = components.detect(Document(text), validate_audience(audience))
    return present["regret"] or present["responsibility"]


def validate_kind(kind: str) -> str:
    """The kind name, or a UsageError listing the valid ones."""
    name = kind.strip().lower()
    if name not in KINDS:
        raise errors.UsageError(f"unknown kind of message {kind!r}; choose one of: {', '.join(KINDS)}")
    return name


def validate_audience(audience: str) -> str:
    """The audience name, or a UsageError listing the valid ones."""
    name = audience.strip().lower()
    if name not in AUDIENCES:
        raise errors.UsageError(f"unknown audience {audience!r}; choose one of: {', '.join(AUDIENCES)}")
    return name


def _penalty(findings: Sequence[Finding]) -> int:
    counted: Counter[str] = Counter()
    total = 0
    for finding in findings:
        counted[finding.rule] += 1
        if counted[finding.rule] <= MAX_COUNTED_PER_RULE:
            total += PENALTY[finding.level]
    return min(total, MAX_PENALTY)


def _apply(rule: Rule, document: Document, present: Mapping[str, bool]) -> list[Finding]:
    unless = rule.unless
    if any(present.get(name, False) for name in unless.components):
        return []
    if unless.text is not None and document.search(unless.text):
        return []
    exception_starts: list[int] = []
    exception_ends: list[int] = []
    if rule.exception_matcher is not None:
        for m in document.finditer(rule.exception_matcher):
            exception_starts.append(m.start())
            exception_ends.append(m.end())
    found: list[Finding] = []
    sentences: set[int] = set()  # where the rule has matched, for `at_least`
    for m in document.finditer(rule.matcher):
        start, end = m.span()
        # Exception matches do not overlap each other, so their ends rise with their
        # starts: the last one starting before this match's end is the only candidate.
        index = bisect_left(exception_starts, end) - 1
        if index >= 0 and exception_ends[index] > start:
            continue
        if unless.sentence is not None and document.sentence_of(start) in document.sentences_with(unless.sentence):
            continue
        if rule.at_least > 1:
            sentences.add(document.sentence_of(start))
            if len(sentences) < rule.at_least:
                continue
        line, column = document.position(start)
        found.append(
            Finding(
                rule=rule.id,
                category=rule.category,
                level=rule.level,
                line=line,
                column=column,
                match=document.original[start:end],
                message=rule.message,
                suggestion=rule.suggestion,
                start=start,
                end=end,
            )
        )
        if rule.once or rule.at_least > 1:
            break
    return found


# --- loading ---------------------------------------------------------------------------


def load_rules(extra_dirs: Sequence[Path] = (), disabled: Collection[str] = ()) -> RuleSet:
    """The built-in rules, then each extra folder's rules, minus the disabled ones.

    A rule in a later folder replaces an earlier rule with the same id, so that a user can
    tune a built-in rule by copying it. `disabled` holds rule ids or whole category names.
    Bad rule files raise `PlaybookError` with every problem as file:line:col; an unknown
    name in `disabled` or a missing folder raises `UsageError`.
    """
    merged: dict[str, Rule] = {rule.id: rule for rule in _builtin_ruleset()}
    problems: list[errors.Diagnostic] = []
    for folder in extra_dirs:
        rules, diagnostics = _load_source(Path(folder))
        problems.extend(diagnostics)
        for rule in rules:
            merged[rule.id] = rule
    if problems:
        raise errors.PlaybookError(problems)
    return RuleSet(tuple(_without(list(merged.values()), disabled)))


def _without(rules: list[Rule], disabled: Collection[str]) -> list[Rule]:
    names = [name.strip() for name in disabled if name.strip()]
    known = {rule.id for rule in rules} | set(CATEGORIES)
    unknown = [name for name in names if name not in known]
    if unknown:
        import difflib

        name = unknown[0]
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise errors.UsageError(
            f"cannot disable {name!r}: no rule or category has that name{hint}",
            hint="rule ids appear beside each finding; categories are " + ", ".join(CATEGORIES),
        )
    off = set(names)
    return [rule for rule in rules if rule.id not in off and rule.category not in off]


@lru_cache(maxsize=1)
def _builtin_ruleset() -> RuleSet:
    rules, problems = _load_source(BUILTIN_RULES_DIR)
    if problems:
        raise errors.PlaybookError(problems)
    return RuleSet(tuple(rules))


def _load_source(source: Path) -> tuple[list[Rule], list[errors.Diagnostic]]:
    """Rules from one folder of *.yaml / *.yml files, or from one file."""
    if source.is_file():
        files = [source]
    elif source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    else:
        raise errors.NotFound(
            f"rules folder '{source}' does not exist",
            hint="give a folder of *.yaml rule files, or a single rule file",
        )
    rules: list[Rule] = []
    problems: list[errors.Diagnostic] = []
    seen: dict[str, str] = {}
    for path in files:
        loaded, diagnostics = _load_file(path)
        problems.extend(diagnostics)
        for rule in loaded:
            if rule.id in seen:
                line = int(rule.source.rsplit(":", 1)[1])
                problems.append(
                    errors.Diagnostic(
                        str(path), line, 1, "id", f"rule id {rule.id!r} is already defined at {seen[rule.id]}"
                    )
                )
                continue
            seen[rule.id] = rule.source
            rules.append(rule)
    return rules, problems


def _load_file(path: Path) -> tuple[list[Rule], list[errors.Diagnostic]]:
    """The rules of one file, and its problems."""
    # The project's YAML reader keeps every value's line and refuses what is not plain
    # data (tags, alias bombs, duplicate keys, deep nesting), as it does for playbooks.
    from mea_culpa import yamlfile

    try:
        document = yamlfile.load(path)
    except yamlfile.YamlProblems as problems:
        return [], list(problems.diagnostics)
    data = document.data
    reader = _Reader(document)
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        reader.problem((), "a rule file is a mapping with a 'rules:' list")
        return [], reader.problems
    version = data.get("version", 1)
    if version != 1:
        reader.problem(("version",), f"unknown format version {version!r}; this mea-culpa reads version 1")
    for key in data:
        if key not in ("version", "rules"):
            reader.problem((key,), f"unknown key {key!r}; a rule file has 'version' and 'rules'", key=True)
    rules = []
    for index, entry in enumerate(data["rules"]):
        rule = reader.rule(("rules", index), entry)
        if rule is not None:
            rules.append(rule)
    return rules, reader.problems


class _Reader:
    """Turns raw YAML rule entries into Rules, collecting every problem on the way."""

    def __init__(self, document: Any) -> None:
        self.document = document  # a yamlfile.Document: the data and where each value stands
        self.problems: list[errors.Diagnostic] = []

    def problem(self, path: tuple[Any, ...], message: str, *, key: bool = False) -> None:
        self.problems.append(self.document.diagnostic(path, message, of_key=key))

    def rule(self, path: tuple[Any, ...], entry: Any) -> Rule | None:
        if not isinstance(entry, dict):
            self.problem(path, "each rule is a mapping with id, category, level, patterns, message")
            return None
        before = len(self.problems)
        for key in entry:
            if key not in _RULE_KEYS:
                self.problem(path + (key,), f"unknown key {key!r}; expected one of: {', '.join(_RULE_KEYS)}", key=True)
        for key in _REQUIRED_KEYS:
            if key not in entry:
                self.problem(path, f"missing required key {key!r}")
        if len(self.problems) > before:
            return None
        rule_id = self.text(path + ("id",), entry["id"])
        if rule_id and not _ID.match(rule_id):
            self.problem(path + ("id",), f"rule id {rule_id!r} must be lower-case letters, digits and dashes")
        category = self.choice(path + ("category",), entry["category"], CATEGORIES)
        level = self.choice(path + ("level",), entry["level"], LEVELS)
        message = self.text(path + ("message",), entry["message"])
        suggestion = self.text(path + ("suggestion",), entry.get("suggestion", ""), required=False)
        rationale = self.text(path + ("rationale",), entry.get("rationale", ""), required=False)
        case_sensitive = self.flag(path + ("case_sensitive",), entry.get("case_sensitive", False))
        once = self.flag(path + ("once",), entry.get("once", False))
        at_least = self.count(path + ("at_least",), entry.get("at_least", 1))
        patterns = self.strings(path + ("patterns",), entry["patterns"], required=True)
        matcher = self.patterns(path + ("patterns",), patterns, case_sensitive)
        exceptions = self.strings(path + ("exceptions",), entry.get("exceptions", []))
        exception_matcher = self.patterns(path + ("exceptions",), exceptions, case_sensitive) if exceptions else None
        audiences = self.strings(path + ("audiences",), entry.get("audiences", list(AUDIENCES)), required=True)
        for index, audience in enumerate(audiences):
            if audience not in AUDIENCES:
                self.problem(
                    path + ("audiences", index), f"unknown audience {audience!r}; choose from {', '.join(AUDIENCES)}"
                )
        unless = self.unless(path + ("unless",), entry.get("unless"))
        examples_fail, examples_pass = self.examples(path + ("examples",), entry.get("examples"))
        if len(self.problems) > before:
            return None
        line = self.document.where(path)[0]
        return Rule(
            id=rule_id,
            category=category,
            level=level,
            patterns=tuple(patterns),
            message=message,
            suggestion=suggestion,
            rationale=rationale,
            exceptions=tuple(exceptions),
            unless=unless,
            audiences=tuple(audiences),
            once=once,
            at_least=at_least,
            case_sensitive=case_sensitive,
            examples_fail=examples_fail,
            examples_pass=examples_pass,
            source=f"{self.document.path}:{line}",
            matcher=matcher,
            exception_matcher=exception_matcher,
        )

    def text(self, path: tuple[Any, ...], value: Any, *, required: bool = True) -> str:
        if not isinstance(value, str) or (required and not value.strip()):
            self.problem(path, "expected a non-empty text" if required else "expected a text")
            return ""
        return value.strip()

    def flag(self, path: tuple[Any, ...], value: Any) -> bool:
        if not isinstance(value, bool):
            self.problem(path, "expected true or false")
            return False
        return value

    def count(self, path: tuple[Any, ...], value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 20:
            self.problem(path, "expected a whole number from 1 to 20")
            return 1
        return value

    def choice(self, path: tuple[Any, ...], value: Any, allowed: Sequence[str]) -> str:
        if value not in allowed:
            self.problem(path, f"{value!r} is not one of: {', '.join(allowed)}")
            return ""
        return str(value)

    def strings(self, path: tuple[Any, ...], value: Any, *, required: bool = False) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or (required and not value):
            self.problem(path, "expected a list of texts" if not required else "expected a non-empty list of texts")
            return []
        out = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.problem(path + (index,), "expected a non-empty text")
            else:
                out.append(item.strip())
        return out

    def patterns(self, path: tuple[Any, ...], patterns: Sequence[str], case_sensitive: bool = False) -> PatternSet:
        """The patterns, read as one set; each unfit one is a problem."""
        matcher, problems = compile_patterns(patterns, case_sensitive)
        for index, problem in problems:
            self.problem(path + (index,), problem)
        return matcher if matcher is not None else _NOTHING

    def unless(self, path: tuple[Any, ...], value: Any) -> Unless:
        if value is None:
            return Unless()
        if not isinstance(value, dict):
            self.problem(path, "expected a mapping with component, sentence and/or text")
            return Unless()
        for key in value:
            if key not in _UNLESS_KEYS:
                self.problem(
                    path + (key,), f"unknown key {key!r}; expected one of: {', '.join(_UNLESS_KEYS)}", key=True
                )
        names = self.strings(path + ("component",), value.get("component", []))
        for index, name in enumerate(names):
            if name not in components.COMPONENTS:
                self.problem(
                    path + ("component", index),
                    f"unknown component {name!r}; choose from {', '.join(components.COMPONENTS)}",
                )
        sentence = self.strings(path + ("sentence",), value.get("sentence", []))
        whole = self.strings(path + ("text",), value.get("text", []))
        return Unless(
            components=tuple(names),
            sentence=self.patterns(path + ("sentence",), sentence) if sentence else None,
            text=self.patterns(path + ("text",), whole) if whole else None,
            sentence_patterns=tuple(sentence),
            text_patterns=tuple(whole),
        )

    def examples(self, path: tuple[Any, ...], value: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if value is None:
            return (), ()
        if not isinstance(value, dict):
            self.problem(path, "expected a mapping with 'fail' and 'pass' lists")
            return (), ()
        for key in value:
            if key not in ("fail", "pass"):
                self.problem(path + (key,), f"unknown key {key!r}; expected 'fail' or 'pass'", key=True)
        failing = self.strings(path + ("fail",), value.get("fail", []))
        passing = self.strings(path + ("pass",), value.get("pass", []))
        return tuple(failing), tuple(passing)


# --- rule authoring ----------------------------------------------------------------------


def verify_examples(rules: RuleSet | Sequence[Rule]) -> list[str]:
    """Every way the rules' own examples disagree with them; empty when all agree.

    A fail example must trigger its rule and a pass example must not, each checked with
    that rule alone, for the rule's first audience.
    """
    problems = []
    for rule in rules:
        alone = RuleSet((rule,))
        audience = rule.audiences[0]
        for example in rule.examples_fail:
            found = check_text(example, audience, alone).findings
            if not any(f.rule == rule.id for f in found):
                problems.append(f"{rule.source}: {rule.id}: fail example not caught: {example!r}")
        for example in rule.examples_pass:
            found = check_text(example, audience, alone).findings
            hits = [f.match for f in found if f.rule == rule.id]
            if hits:
                problems.append(f"{rule.source}: {rule.id}: pass example flagged at {hits[0]!r}: {example!r}")
    return problems
