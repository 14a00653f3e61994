"""Validation reports every problem of a playbook with its exact file:line:col and message."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mea_culpa.errors import PlaybookError
from mea_culpa.paths import builtin_playbooks_dir
from mea_culpa.playbook.loading import json_schema, load, loads
from mea_culpa.playbook.model import STAGE_KINDS

VALID = """\
id: late-invoice
title: Late invoice
summary: An invoice went out late.
version: 1
tags: [billing]
stages:
  - stage: facts
    guidance: Facts first.
    steps:
      - id: severity
        type: choice
        prompt: How bad?
        choices: [none, minor, major, critical]
      - id: what_happened
        type: long-text
        prompt: What happened?
  - stage: own
    guidance: Own it.
    steps:
      - id: responsibility
        type: long-text
        prompt: Your statement
        default: "{{ what_happened }} That was my mistake."
        when: "severity != 'none'"
"""


def problems(text: str, name: str = "pb.yaml") -> list[str]:
    with pytest.raises(PlaybookError) as err:
        loads(textwrap.dedent(text), name)
    return err.value.lines()


def test_the_base_playbook_is_valid():
    book = loads(VALID, "pb.yaml")
    assert book.id == "late-invoice"
    assert [s.kind for s in book.stages] == ["facts", "own"]
    assert book.step("responsibility").default.startswith("{{")


# Each case: (what is broken, the text, the exact lines expected).
CASES = [
    ("empty file", "", ["pb.yaml: the file is empty; start from `mea-culpa new NAME`"]),
    ("not a mapping", "- a\n- b\n", ["pb.yaml:1:1: expected a mapping (key: value lines), found a list"]),
    (
        "a tab for indentation",
        "id: x\ntitle: T\n\tsummary: s\n",
        ["pb.yaml:3:1: a tab character: YAML indents with spaces only; replace the tab with spaces"],
    ),
    (
        "duplicate key",
        VALID.replace("title: Late invoice\n", "title: Late invoice\ntitle: Again\n"),
        ["pb.yaml:3:1: title: duplicate key 'title' (first given on line 2); keep one"],
    ),
    (
        "unknown key with a did-you-mean",
        VALID.replace("    guidance: Facts first.\n", "    guidence: Facts first.\n"),
        ["pb.yaml:8:5: stages[0].guidence: unknown key 'guidence' in stage; did you mean 'guidance'?"],
    ),
    (
        "wrong type",
        VALID.replace("tags: [billing]", "tags: billing"),
        ["pb.yaml:5:7: tags: expected a list, found text"],
    ),
    (
        "a python tag",
        VALID.replace("version: 1", "version: !!python/object/apply:os.system ['ls']"),
        ["pb.yaml:4:10: version: the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed: playbooks and answers are plain data"],
    ),
    (
        "id not kebab-case",
        VALID.replace("id: late-invoice", "id: Late Invoice"),
        ["pb.yaml:1:5: id: 'Late Invoice' is not valid: use kebab-case: lowercase words joined by -"],
    ),
    (
        "missing required key",
        VALID.replace("summary: An invoice went out late.\n", ""),
        ["pb.yaml:1:1: missing required key 'summary' in playbook"],
    ),
    (
        "unknown stage kind",
        VALID.replace("stage: own", "stage: owning"),
        ["pb.yaml:17:12: stages[1].stage: 'owning' is not one of facts, cause, own, apologize, fix, prevent, move-on; did you mean 'own'?"],
    ),
    (
        "stages out of order",
        VALID.replace("stage: facts", "stage: fix"),
        [
            "pb.yaml:17:12: stages[1].stage: stage 'own' comes after 'fix'; stages keep the order "
            "facts → cause → own → apologize → fix → prevent → move-on"
        ],
    ),
    (
        "duplicate step id",
        VALID.replace("id: responsibility", "id: what_happened"),
        ["pb.yaml:20:13: stages[1].steps[0].id: duplicate step id 'what_happened' (first used at stages[0].steps[1]); ids are unique in a playbook"],
    ),
    (
        "step id that is not a name",
        VALID.replace("id: responsibility", "id: Responsibility-1"),
        ["pb.yaml:20:13: stages[1].steps[0].id: 'Responsibility-1' is not valid: use lowercase letters, digits and _ starting with a letter (templates read it as a name)"],
    ),
    (
        "unknown step type",
        VALID.replace("type: long-text\n        prompt: Your", "type: essay\n        prompt: Your"),
        ["pb.yaml:21:15: stages[1].steps[0].type: 'essay' is not one of text, long-text, choice, multi-choice, yes-no, number, date, datetime, list, action"],
    ),
    (
        "when that does not parse",
        VALID.replace("when: \"severity != 'none'\"", "when: \"severity !=\""),
        ["pb.yaml:24:15: stages[1].steps[0].when: the expression 'severity !=' does not parse: unexpected 'end of template'"],
    ),
    (
        "when naming an unknown answer",
        VALID.replace("when: \"severity != 'none'\"", "when: \"severty != 'none'\""),
        ["pb.yaml:24:15: stages[1].steps[0].when: when uses 'severty', but no step has that id; did you mean 'severity'?"],
    ),
    (
        "default naming a later answer",
        VALID.replace("{{ what_happened }}", "{{ responsibility }}"),
        ["pb.yaml:23:18: stages[1].steps[0].default: the default uses 'responsibility', which is only asked later; it can use answers from earlier steps"],
    ),
    (
        "choice step without choices",
        VALID.replace("        choices: [none, minor, major, critical]\n", ""),
        ["pb.yaml:10:9: stages[0].steps[0]: a choice step needs `choices`"],
    ),
    (
        "choices on a text step",
        VALID.replace("        prompt: What happened?\n", "        prompt: What happened?\n        choices: [a, b]\n"),
        ["pb.yaml:17:18: stages[0].steps[1].choices: only choice and multi-choice steps have choices (this one is long-text)"],
    ),
    (
        "default that is not a choice",
        VALID.replace("        choices: [none, minor, major, critical]\n", "        choices: [none, minor, major, critical]\n        default: huge\n"),
        ["pb.yaml:14:18: stages[0].steps[0].default: the default does not fit: 'huge' is not one of none, minor, major, critical"],
    ),
    (
        "a pattern that could take forever",
        VALID.replace("        prompt: What happened?\n", "        prompt: What happened?\n        validate: {pattern: '(a+)+b'}\n"),
        ["pb.yaml:17:29: stages[0].steps[1].validate.pattern: nested repetition like (a+)+ can take forever on some answers; simplify the pattern"],
    ),
    (
        "a list step without fields",
        VALID.replace("type: long-text\n        prompt: What happened?", "type: list\n        prompt: What happened?"),
        ["pb.yaml:14:9: stages[0].steps[1]: a list step needs `fields` (the columns of each item, e.g. what / owner / due)"],
    ),
    (
        "message with a missing template",
        VALID + "messages:\n  - id: thank-you\n    title: Thanks\n",
        ["pb.yaml:26:5: messages[0].template: no template 'thank-you' beside the playbook or among the built-ins"],
    ),
    (
        "template path climbing out",
        VALID + "messages:\n  - id: x\n    title: X\n    template: ../../etc/passwd\n",
        ["pb.yaml:28:15: messages[0].template: '../../etc/passwd' climbs out with '..'; name a file inside the playbook's folder"],
    ),
    (
        "absolute template path",
        VALID + "messages:\n  - id: x\n    title: X\n    template: /etc/passwd\n",
        ["pb.yaml:28:15: messages[0].template: '/etc/passwd' is an absolute path; name a file inside the playbook's folder"],
    ),
    (
        "a condition that fails while Jinja compiles it",
        VALID.replace('when: "severity != \'none\'"', 'when: "-(\'\' if \'\'.x else [])"'),
        ["pb.yaml:24:15: stages[1].steps[0].when: the expression \"-('' if ''.x else [])\" does not parse: 'str object' has no attribute 'x'"],
    ),
    (
        "a condition nested past what Python compiles",
        VALID.replace('when: "severity != \'none\'"', 'when: "' + "(" * 220 + "severity" + ")" * 220 + '"'),
        ["pb.yaml:24:15: stages[1].steps[0].when: the expression '" + "(" * 59 + "…' does not parse: nested too deeply to read; simplify it"],
    ),
    (
        "reserved step id",
        VALID.replace("id: responsibility", "id: session"),
        ["pb.yaml:20:13: stages[1].steps[0].id: 'session' is a reserved name in templates; choose another id"],
    ),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_broken_playbook_is_reported_at_its_exact_place(text, expected):
    assert problems(text) == expected


def test_there_are_at_least_twenty_distinct_broken_playbooks():
    assert len({c[0] for c in CASES}) >= 20


def test_every_problem_of_a_file_is_reported_at_once():
    text = (
        VALID.replace("id: late-invoice", "id: Late")
        .replace("guidance: Facts first.", "guidanse: Facts first.")
        .replace("stage: own", "stage: facts")
        .replace("{{ what_happened }}", "{{ nothing }}")
    )
    lines = problems(text)
    assert [line.split(": ")[0] for line in lines] == ["pb.yaml:1:5", "pb.yaml:8:5", "pb.yaml:17:12", "pb.yaml:23:18"]
    assert "appears twice" in lines[2]


def test_a_template_symlinked_out_of_the_folder_is_refused(tmp_path: Path):
    secret = tmp_path / "outside.j2"
    secret.write_text("secret", encoding="utf-8")
    folder = tmp_path / "book"
    folder.mkdir()
    (folder / "evil.j2").symlink_to(secret)
    path = folder / "playbook.yaml"
    path.write_text(VALID + "messages:\n  - id: x\n    title: X\n    template: evil.j2\n", encoding="utf-8")
    with pytest.raises(PlaybookError) as err:
        load(path)
    assert "is a link that leads outside" in err.value.lines()[0]


def test_a_template_beside_the_playbook_is_found_and_its_names_checked(tmp_path: Path):
    folder = tmp_path / "book"
    folder.mkdir()
    (folder / "thanks.j2").write_text("Hello {{ what_happened }} {{ typo_here }}", encoding="utf-8")
    path = folder / "playbook.yaml"
    path.write_text(VALID + "messages:\n  - id: thanks\n    title: Thanks\n    template: thanks.j2\n", encoding="utf-8")
    with pytest.raises(PlaybookError) as err:
        load(path)
    assert err.value.lines() == [
        f"{path}:28:15: messages[0].template: template thanks.j2 uses 'typo_here', but no step has that id; add the step or choose another template"
    ]


def test_bom_and_crlf_are_accepted(tmp_path: Path):
    path = tmp_path / "pb.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.replace("\n", "\r\n").encode())
    assert load(path).id == "late-invoice"


def test_invalid_utf8_points_at_its_line(tmp_path: Path):
    path = tmp_path / "pb.yaml"
    path.write_bytes(VALID.encode().replace(b"Late invoice", b"Late \xff invoice"))
    with pytest.raises(PlaybookError) as err:
        load(path)
    assert err.value.lines() == [f"{path}:2:13: not valid UTF-8 (byte 0xff); save the file as UTF-8"]


def _resolved(schema: dict, node: dict) -> dict:
    """`node` with its `$ref` followed (the schema keeps each model once, under $defs)."""
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def test_the_json_schema_covers_every_key_the_loader_knows():
    schema = json_schema()
    stage = _resolved(schema, schema["properties"]["stages"]["items"])
    step = _resolved(schema, stage["properties"]["steps"]["items"])
    assert stage["properties"]["stage"]["enum"] == list(STAGE_KINDS)
    assert {"id", "type", "prompt", "when", "default", "validate", "sensitive", "fields", "choices"} <= set(step["properties"])
    assert step["additionalProperties"] is False
    json.dumps(schema)  # serialisable as it is


def test_every_builtin_playbook_is_valid_by_the_json_schema_editors_use():
    """The schema comes from the same models that validate, so an editor never flags a
    playbook that mea-culpa accepts (checked with the jsonschema library)."""
    import yaml
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(json_schema())
    for path in sorted(builtin_playbooks_dir().glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert [e.message for e in validator.iter_errors(data)] == [], path.name


def test_the_json_schema_refuses_what_the_loader_refuses():
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(json_schema())
    import yaml

    for broken in ("id: Late Invoice", "title: ''"):
        data = yaml.safe_load(VALID.replace(broken.split(":")[0] + ": " + ("late-invoice" if broken.startswith("id") else "Late invoice"), broken))
        assert list(validator.iter_errors(data)), broken
    data = yaml.safe_load(VALID.replace("    guidance: Facts first.\n", "    guidence: Facts first.\n"))
    assert list(validator.iter_errors(data))
