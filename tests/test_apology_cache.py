"""The apology check's caches (regex_cache.py, and the rule data in engine.py): a warm run
gives exactly what a cold run gives, without parsing a pattern or a YAML file, and a cache
that is damaged, stale or not safe to read is ignored."""

from __future__ import annotations

import json
import marshal
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mea_culpa import errors, regex_cache
from mea_culpa.apology import check_text, engine, load_rules, text
from mea_culpa.cache import DiskCache

CORPUS = Path(__file__).parent / "data" / "apology" / "corpus.yaml"
SAMPLE = [item["text"] for item in yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["items"][:40]]
TEXTS = [
    "I'm sorry if you were upset, but the delay was caused by the courier.",
    "Mistakes were made. We apologize for any inconvenience this may have caused.",
    (
        "I'm sorry. On Tuesday we sent your order to the wrong address. That was our mistake, and "
        "it meant you waited three extra days. We have refunded your shipping, and from Monday our "
        "warehouse lead checks every address. I hope you will give us another chance."
    ),
    "Sorry \u2019bout that \u2014 it won\u2019t happen again, we promise 100%!",
]


def restart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Save what the caches hold and forget them, as a process that ends and a new one
    that starts would."""
    for cache in list(DiskCache._open.values()):
        cache.save()
    monkeypatch.setattr(DiskCache, "_open", {})
    monkeypatch.setattr(text, "_VERDICTS", regex_cache.PatternCache("apology-patterns.marshal"))
    engine._rule_data_cache.cache_clear()
    engine._builtin_ruleset.cache_clear()


@pytest.fixture
def process(monkeypatch: pytest.MonkeyPatch):
    """`process()` starts a new 'process' on the test's home; the caches are forgotten again
    after the test, so that the other tests find the module state they expect."""
    restart(monkeypatch)
    yield lambda: restart(monkeypatch)
    engine._rule_data_cache.cache_clear()
    engine._builtin_ruleset.cache_clear()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often patterns are judged and rule files read, the work a warm cache skips."""
    calls = {"judge": 0, "read": 0}

    def counting(name: str, function: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(text, "_judge", counting("judge", text._judge))
    monkeypatch.setattr(engine, "_read_file", counting("read", engine._read_file))
    return calls


def compiled_patterns(rules: engine.RuleSet) -> list[re.Pattern[str]]:
    found = []
    for rule in rules:
        found += [rule.regex, rule.exception_regex, rule.unless.sentence, rule.unless.text]
    return [pattern for pattern in found if pattern is not None]


def cache_file(home: Path, name: str) -> Path:
    return home / "cache" / name


# --- warm equals cold ----------------------------------------------------------------------


def test_a_warm_cache_gives_the_patterns_re_compile_gives(process, counted):
    cold = compiled_patterns(load_rules())
    assert counted["judge"] > 0
    process()
    counted.update(judge=0, read=0)
    warm = compiled_patterns(load_rules())
    assert counted == {"judge": 0, "read": 0}
    assert len(warm) == len(cold) > 30
    for before, after in zip(cold, warm, strict=True):
        fresh = re.compile(after.pattern)
        assert after == fresh == before  # same pattern text, flags and program
        assert (after.pattern, after.flags, after.groups) == (fresh.pattern, fresh.flags, fresh.groups)
        for sample in SAMPLE:
            folded = text.fold_case(text.normalise(sample))
            assert [m.span() for m in after.finditer(folded)] == [m.span() for m in fresh.finditer(folded)]


def test_a_warm_cache_gives_the_same_results(process, counted):
    rules = load_rules()
    cold = [check_text(sample, audience, rules) for sample in TEXTS + SAMPLE for audience in engine.AUDIENCES]
    process()
    rules = load_rules()
    warm = [check_text(sample, audience, rules) for sample in TEXTS + SAMPLE for audience in engine.AUDIENCES]
    assert warm == cold
    assert counted["read"] == len(list(engine.BUILTIN_RULES_DIR.glob("*.yaml")))  # the cold run only


def test_a_stored_rule_is_rebuilt_equal_to_the_one_read():
    for rule in load_rules():
        rebuilt = engine._rebuilt(engine._record(rule), rule.source.rsplit(":", 1)[0])
        assert rebuilt == rule
        assert (rebuilt.regex, rebuilt.exception_regex) == (rule.regex, rule.exception_regex)


def test_problems_are_kept_too(process, counted):
    for pattern in ["(a+)+b", "x{gap:11}y", "(?P<name>x)", "a|", "(unclosed"]:
        problem = text.pattern_problem(pattern)
        process()
        assert text.pattern_problem(pattern) == problem is not None
    assert counted["judge"] == 5


# --- a cache that must not be used ---------------------------------------------------------


def warm_home(process) -> list[engine.CheckResult]:
    """Fill the caches; the results a cold run gives."""
    results = [check_text(sample, rules=load_rules()) for sample in TEXTS]
    process()
    return results


@pytest.mark.parametrize("name", ["apology-patterns.marshal", "apology-rules.marshal"])
@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda path: path.write_bytes(path.read_bytes()[:5000]), id="truncated"),
        pytest.param(lambda path: path.write_bytes(b"\x00garbage" * 100), id="garbage"),
        pytest.param(
            lambda path: path.write_bytes(marshal.dumps({**marshal.loads(path.read_bytes()), "version": "0.0.0"})),
            id="another-version",
        ),
        pytest.param(lambda path: path.chmod(0o664), id="group-writable"),
    ],
)
def test_a_spoiled_cache_file_is_ignored(process, counted, isolated_home, name, spoil):
    cold = warm_home(process)
    spoil(cache_file(isolated_home, name))
    counted.update(judge=0, read=0)
    assert [check_text(sample, rules=load_rules()) for sample in TEXTS] == cold
    assert counted["judge" if name == "apology-patterns.marshal" else "read"] > 0


def test_a_damaged_entry_is_judged_again(process, counted, isolated_home):
    cold = warm_home(process)
    path = cache_file(isolated_home, "apology-patterns.marshal")
    data = marshal.loads(path.read_bytes())
    for key, stored in data["entries"].items():
        if not isinstance(stored, str):
            pattern, flags, words, *rest = stored
            data["entries"][key] = (pattern, flags, words[: len(words) // 2], *rest)  # _sre.compile refuses it
    path.write_bytes(marshal.dumps(data))
    counted.update(judge=0)
    assert [check_text(sample, rules=load_rules()) for sample in TEXTS] == cold
    assert counted["judge"] > 0


def test_without_the_regex_internals_patterns_compile_the_plain_way(process, monkeypatch, isolated_home):
    cold = warm_home(process)
    monkeypatch.setattr(regex_cache, "_USABLE", False)
    process()
    assert [check_text(sample, rules=load_rules()) for sample in TEXTS] == cold


# --- rule files --------------------------------------------------------------------------

HOUSE = """\
version: 1
rules:
  - id: house-rule
    category: padding
    level: warning
    patterns: ["{word}"]
    message: m
"""


def test_a_changed_rule_file_is_read_again(process, counted, tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    house = folder / "house.yaml"
    house.write_text(HOUSE.format(word="apple"), encoding="utf-8")
    stat = house.stat()
    hits = lambda: [f.match for f in check_text("an apple and a mango", rules=load_rules([folder])).findings]  # noqa: E731
    assert hits() == ["apple"]
    process()
    assert hits() == ["apple"]
    counted.update(read=0)
    # Same size, same modification time: only the content tells.
    house.write_text(HOUSE.format(word="mango"), encoding="utf-8")
    os.utime(house, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert hits() == ["mango"]
    assert counted["read"] == 1
    process()
    assert hits() == ["mango"]


def test_a_broken_rule_file_is_never_stored_and_keeps_its_diagnostics(process, counted, tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "house.yaml").write_text(HOUSE.format(word="(a+)+") + "    once: maybe\n", encoding="utf-8")
    with pytest.raises(errors.PlaybookError) as first:
        load_rules([folder])
    process()
    with pytest.raises(errors.PlaybookError) as second:
        load_rules([folder])
    assert [str(d) for d in second.value.diagnostics] == [str(d) for d in first.value.diagnostics]
    assert len(first.value.diagnostics) == 2
    assert counted["read"] == 2 + 10  # the house file both times; the built-in rules once


# --- a warm `mea-culpa check` in a new process ---------------------------------------------

# Runs `mea-culpa check FILE --format json`, counting the patterns parsed and compiled for
# the check on the way (from before the apology package is imported), and reports what it
# printed, whether it imported yaml, what it compiled and parsed.
CHECK = textwrap.dedent(
    r"""
    import contextlib, io, json, re._parser, sys
    from mea_culpa import regex_cache
    parsed, compiled = [], []
    parse, compile = re._parser.parse, regex_cache._compile
    re._parser.parse = lambda pattern, *args: parsed.append(pattern) or parse(pattern, *args)
    regex_cache._compile = lambda pattern, *args: compiled.append(pattern) or compile(pattern, *args)
    from mea_culpa.cli.app import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(["check", "--format", "json", sys.argv[1]])
    from mea_culpa.apology import components, engine
    # The components' patterns made by compile_pattern (they end in its word boundary),
    # not the few small module constants compiled with re.compile.
    patterns = [p for p in vars(components).values() if isinstance(p, re.Pattern) and p.pattern.endswith("(?!\\w)")]
    for rule in engine._builtin_ruleset():
        patterns += [p for p in (rule.regex, rule.exception_regex, rule.unless.sentence, rule.unless.text) if p]
    print(json.dumps({
        "output": json.loads(out.getvalue()),
        "yaml": "yaml" in sys.modules,
        "compiled": len(compiled),
        "rule patterns parsed": sum(p.pattern in parsed for p in patterns),
        "equal to re.compile": all(p == re.compile(p.pattern) for p in patterns),
    }))
    """
)


def run_check(path: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHECK, str(path)], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL
    )
    return json.loads(proc.stdout)


def test_a_warm_check_imports_no_yaml_and_parses_no_rule_pattern(tmp_path):
    letter = tmp_path / "apology.txt"
    letter.write_text(" ".join(TEXTS), encoding="utf-8")
    cold = run_check(letter)
    warm = run_check(letter)
    assert cold["yaml"] and cold["compiled"] > 50 and cold["rule patterns parsed"] > 30
    assert (warm["yaml"], warm["compiled"], warm["rule patterns parsed"]) == (False, 0, 0)
    assert warm["output"] == cold["output"] and warm["output"]["findings"]
    assert cold["equal to re.compile"] and warm["equal to re.compile"]
