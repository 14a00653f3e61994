"""`mea-culpa check`: the report, the JSON, the exit codes, and where rules come from.

Most tests drive the command through a one-command typer app, as the command module
stands alone; the last ones go through the real entry point."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mea_culpa import errors
from mea_culpa.cli.check import check

GOOD = (
    "I'm sorry. On Tuesday we sent your order to the wrong address. That was our mistake, and it "
    "meant you waited three extra days. We have shipped the right order at no cost and refunded "
    "your shipping. We've added an address check to every order, starting Monday."
)
BAD = "We apologize for any inconvenience this may have caused.\nMistakes were made."
PADDED = GOOD + " We take your satisfaction very seriously."

app = typer.Typer()
app.command()(check)
runner = CliRunner()


def run(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def texts(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, text in {"good": GOOD, "bad": BAD, "padded": PADDED}.items():
        paths[name] = tmp_path / f"{name}.txt"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def test_a_good_apology_exits_0_with_its_score_and_parts(texts):
    result = run(str(texts["good"]))
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith(str(texts["good"])) and "/100" in first and first.endswith("passes")
    assert "has: responsibility, repair, regret, explanation, impact, prevention" in result.output
    assert "missing forgiveness:" in result.output
    assert "no phrases to fix" in result.output


def test_a_bad_apology_exits_1_and_lists_findings_with_line_col_and_the_match_marked(texts):
    result = run(str(texts["bad"]))
    assert result.exit_code == 1
    out = result.output
    assert "fails: below 60 and an error-level finding" in out
    assert "missing responsibility: Say in the first person" in out
    assert (
        "  1:18  warning  minimizing-any-inconvenience  We apologize for [any inconvenience this may have caused]."
        in out
    )
    assert "  2:1  warning  passive-mistakes-were-made  [Mistakes were made]." in out
    assert '"Any inconvenience" shrinks the harm' in out
    assert "try: Name the real harm" in out


def test_a_warning_alone_does_not_fail_but_an_error_does(texts, tmp_path):
    assert run(str(texts["padded"])).exit_code == 0
    blamed = tmp_path / "blamed.txt"
    blamed.write_text(GOOD + " The intern picked the wrong list.", encoding="utf-8")
    result = run(str(blamed))
    assert result.exit_code == 1
    assert "fails: an error-level finding" in result.output


def test_the_default_bar_is_the_engines():
    import inspect

    from mea_culpa.apology import DEFAULT_MIN_SCORE

    assert inspect.signature(check).parameters["min_score"].default.default == DEFAULT_MIN_SCORE


def test_min_score_sets_the_bar(texts):
    score = json.loads(run(str(texts["good"]), "--format", "json").output)["score"]
    assert run(str(texts["good"]), "--min-score", str(score)).exit_code == 0
    assert run(str(texts["good"]), "--min-score", str(score + 1)).exit_code == 1
    assert run(str(texts["good"]), "--min-score", "101").exit_code == 2


def test_json_prints_one_object_for_one_input_with_exactly_the_documented_keys(texts):
    result = run("--format", "json", str(texts["bad"]))
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert list(data) == ["score", "components", "findings"]
    assert list(data["components"]) == [
        "responsibility",
        "repair",
        "regret",
        "explanation",
        "impact",
        "prevention",
        "forgiveness",
    ]
    finding = data["findings"][0]
    assert list(finding) == ["rule", "category", "level", "line", "column", "match", "message", "suggestion"]


def test_json_prints_an_array_in_input_order_for_several_inputs(texts):
    result = run("--format", "json", str(texts["good"]), str(texts["bad"]))
    data = json.loads(result.output)
    assert isinstance(data, list) and len(data) == 2
    assert data[0]["score"] > data[1]["score"]
    assert result.exit_code == 1  # one of them fails


def test_several_inputs_each_get_a_report(texts):
    result = run(str(texts["good"]), str(texts["bad"]))
    heads = [line for line in result.output.splitlines() if "/100" in line]
    assert [h.split()[0] for h in heads] == [str(texts["good"]), str(texts["bad"])]


def test_standard_input_is_read_with_a_dash():
    result = run("-", input=BAD)
    assert result.exit_code == 1
    assert result.output.startswith("standard input  score ")
    assert "minimizing-any-inconvenience" in result.output


def test_audience_changes_what_is_required_and_flagged(tmp_path):
    note = tmp_path / "note.txt"
    note.write_text(
        "On Friday our deploy sent 1,200 invoices twice because we ran it with an old config. "
        "We reverted it at 16:40 and contacted every affected customer. "
        "Actions: add a duplicate-send check (Priya, by 14 June).",
        encoding="utf-8",
    )
    internal = json.loads(run(str(note), "--audience", "internal", "--format", "json").output)
    customer = json.loads(run(str(note), "--format", "json").output)
    assert internal["score"] > customer["score"]
    assert "jargon" in {f["category"] for f in customer["findings"]}
    assert "jargon" not in {f["category"] for f in internal["findings"]}


def test_disable_switches_a_rule_off_by_id_or_category(texts):
    base = json.loads(run(str(texts["bad"]), "--format", "json").output)
    by_id = json.loads(run(str(texts["bad"]), "--format", "json", "--disable", "passive-mistakes-were-made").output)
    by_category = json.loads(
        run(str(texts["bad"]), "--format", "json", "--disable", "minimizing", "--disable", "passive").output
    )
    rules = lambda data: {f["rule"] for f in data["findings"]}  # noqa: E731
    assert "passive-mistakes-were-made" in rules(base) and "passive-mistakes-were-made" not in rules(by_id)
    assert not {f["category"] for f in by_category["findings"]} & {"minimizing", "passive"}


def test_an_extra_rules_folder_is_used(texts, tmp_path):
    folder = tmp_path / "house-rules"
    folder.mkdir()
    (folder / "house.yaml").write_text(
        textwrap.dedent(
            """\
            rules:
              - id: house-no-tuesday
                category: jargon
                level: error
                patterns: [tuesday]
                message: We never name weekdays.
            """
        ),
        encoding="utf-8",
    )
    result = run(str(texts["good"]), "--rules", str(folder))
    assert result.exit_code == 1
    assert "error  house-no-tuesday" in result.output


def test_a_rules_folder_beside_the_playbooks_on_the_search_path_is_used(texts, tmp_path, monkeypatch):
    playbooks = tmp_path / "team" / "playbooks"
    playbooks.mkdir(parents=True)
    rules = tmp_path / "team" / "rules"
    rules.mkdir()
    (rules / "team.yaml").write_text(
        "rules:\n  - id: team-no-order\n    category: jargon\n    level: warning\n    patterns: [order]\n    message: m\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("MEA_CULPA_PATH", str(playbooks))
    result = run(str(texts["good"]))
    assert "team-no-order" in result.output


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        (
            ["missing.txt"],
            errors.NotFound,
            "cannot read 'missing.txt': no such file; give a file path or - for standard input",
        ),
        (["--audience", "board", "x"], errors.UsageError, "unknown audience 'board'"),
        (["--format", "xml", "x"], errors.UsageError, "unknown format 'xml'"),
        (["--disable", "no-such-rule", "x"], errors.UsageError, "cannot disable 'no-such-rule'"),
        (["--rules", "/no/such/folder", "x"], errors.NotFound, "rules folder '/no/such/folder' does not exist"),
        (["-", "-"], errors.UsageError, "standard input (-) can be read only once"),
    ],
)
def test_bad_input_raises_one_line_usage_errors_with_exit_code_2(args, error, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x").write_text(GOOD, encoding="utf-8")
    result = run(*args, input="")
    assert isinstance(result.exception, error), result.output
    assert words in str(result.exception)
    assert "\n" not in str(result.exception)
    assert result.exception.exit_code == 2


def test_a_folder_or_a_non_utf8_file_is_refused_with_a_reason(tmp_path):
    binary = tmp_path / "latin1.txt"
    binary.write_bytes("désolé".encode("latin-1"))
    folder = run(str(tmp_path)).exception
    assert isinstance(folder, errors.UsageError) and "it is a folder" in str(folder)
    latin = run(str(binary)).exception
    assert isinstance(latin, errors.UsageError) and "not UTF-8 text" in str(latin)


def test_a_byte_order_mark_and_windows_line_ends_do_not_shift_columns(tmp_path):
    path = tmp_path / "windows.txt"
    path.write_bytes("\ufeffHello,\r\nWe apologize for any inconvenience.\r\n".encode())
    finding = next(
        f
        for f in json.loads(run(str(path), "--format", "json").output)["findings"]
        if f["rule"] == "minimizing-any-inconvenience"
    )
    assert (finding["line"], finding["column"]) == (2, 18)


def test_an_answer_typed_in_a_hurry_is_reported_at_each_slip_with_a_fix(tmp_path):
    path = tmp_path / "terse.txt"
    path.write_text(
        "I'm sorry. Our api was down for 40 min.\nFor you, that meant their apps couldnt sync.\n", encoding="utf-8"
    )
    out = run(str(path)).output
    assert "  1:16  suggestion  voice-lowercase-acronym  I'm sorry. Our [api] was down for 40 min." in out
    assert "  2:1  warning  voice-third-person  [For you, that meant their] apps couldnt sync." in out
    assert "  2:32  suggestion  voice-missing-apostrophe  …or you, that meant their apps [couldnt] sync." in out
    assert "try: Say it to them" in out


# --- through the real entry point ------------------------------------------------------------


def test_the_registered_command_prints_one_error_line_and_exits_2_for_a_missing_file(capsys):
    from mea_culpa.cli.app import main

    with pytest.raises(SystemExit) as exit_info:
        main(["check", "no-such-apology.txt"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "error: cannot read 'no-such-apology.txt': no such file; give a file path or - for standard input"
    ]


def test_the_registered_command_exits_1_for_a_failing_text(texts, capsys):
    from mea_culpa.cli.app import main

    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(texts["bad"])])
    assert exit_info.value.code == 1
    assert "minimizing-any-inconvenience" in capsys.readouterr().out
