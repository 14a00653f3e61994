"""The read-only commands and the error boundary, driven through the real entry point."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mea_culpa import __version__
from mea_culpa.cli.app import main
from mea_culpa.playbook.loading import load

DATA = Path(__file__).parent / "data"
MINI = DATA / "playbooks" / "mini.yaml"


def copy_mini(folder: Path, new_id: str | None = None, title: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = MINI.read_text(encoding="utf-8")
    if new_id:
        text = text.replace("id: mini", f"id: {new_id}", 1)
    if title:
        text = text.replace("title: Mini", f"title: {title}", 1)
    path = folder / f"{new_id or 'mini'}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_version_prints_the_version(cli):
    assert cli("--version") == (0, f"mea-culpa {__version__}\n", "")


def test_help_lists_every_command_with_an_example(cli):
    code, out, _ = cli("--help")
    assert code == 0
    for command in ("start", "resume", "list", "show", "validate", "schema", "new"):
        assert f"  {command}" in out
        _, sub, _ = cli(command, "--help")
        assert "Example" in sub, command


@pytest.mark.parametrize("command", ["list", "show", "new", "schema", "validate", "start", "resume", "draft", "export", "check"])
def test_help_names_arguments_and_values_in_plain_words(cli, command):
    """`[PLAYBOOK]`, `FILE...`, `--tag TAG`: never `[[PLAYBOOK]]`, `{FILE...}...` or a
    Python type such as `<list[str]>`."""
    code, out, _ = cli(command, "--help")
    assert code == 0
    assert "[[" not in out
    assert not re.search(r"\{[A-Z]", out), out
    assert not re.search(r"<(?:str|int|path|list|Path|float)", out), out
    usage = out.splitlines()[0]
    expected = {"show": "ID|FILE", "new": "NAME", "validate": "FILE...", "start": "[PLAYBOOK]", "resume": "[SESSION]",
                "draft": "[SESSION]", "export": "[SESSION]", "check": "FILE..."}
    if command in expected:
        assert usage.endswith(f"[OPTIONS] {expected[command]}"), usage


def test_list_shows_the_search_path_in_order_and_marks_shadowed_ids(cli, tmp_path, monkeypatch):
    first = tmp_path / "first"
    second = tmp_path / "second"
    copy_mini(first, title="From first")
    copy_mini(second, title="From second")
    copy_mini(second, new_id="only-second")
    monkeypatch.setenv("MEA_CULPA_PATH", str(second))
    code, out, err = cli("list", "--playbooks", str(first), "--json")
    assert code == 0
    rows = [r for r in json.loads(out) if r["id"] in ("mini", "only-second")]
    assert [(r["id"], r["title"], r["source"]) for r in rows] == [
        ("mini", "From first", "--playbooks"),
        ("mini", "From second", "MEA_CULPA_PATH"),
        ("only-second", "Mini", "MEA_CULPA_PATH"),
    ]
    assert "shadowed_by" in rows[1] and "shadowed_by" not in rows[0]
    assert {"id", "title", "summary", "source", "path"} <= set(rows[0])
    code, out, err = cli("list", "--playbooks", str(first))
    assert "hidden" in out and "is hidden by" in err


def test_list_finds_playbooks_in_the_project_folder(cli, tmp_path, monkeypatch):
    copy_mini(tmp_path / ".mea-culpa" / "playbooks", new_id="project-one")
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("list", "--json")
    assert any(r["id"] == "project-one" and r["source"] == "project" for r in json.loads(out))


def test_list_marks_a_broken_playbook_without_failing(cli, tmp_path):
    folder = tmp_path / "pbs"
    folder.mkdir()
    (folder / "broken.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    code, out, err = cli("list", "--playbooks", str(folder))
    assert code == 0
    assert "broken" in out and "mea-culpa validate" in err


def test_show_json_gives_the_playbook_as_data(cli):
    code, out, _ = cli("show", str(MINI), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["id"] == "mini"
    assert [s["stage"] for s in data["stages"]] == ["facts", "cause", "own", "apologize", "fix", "prevent", "move-on"]
    step = data["stages"][0]["steps"][0]
    assert {k: step[k] for k in ("id", "type", "prompt", "required")} == {
        "id": "severity", "type": "choice", "prompt": "How bad?", "required": True,
    }
    assert step["choices"] == [{"value": v, "label": v, "help": "", "exclusive": False} for v in ("none", "minor", "major", "critical")]
    assert "validate" in step and "stage" not in step  # the format's own keys
    assert data["messages"] == []


def test_show_draws_a_tree_with_guidance(cli):
    code, out, _ = cli("show", str(MINI))
    assert code == 0
    assert "[3/7] Own it" in out and "Facts first." in out and "what_happened" in out


def test_show_an_unknown_id_says_what_to_do(cli):
    code, out, err = cli("show", "mni", "--playbooks", str(DATA / "playbooks"))
    assert code == 2
    assert err == "error: no playbook 'mni' on the search path\ndid you mean 'mini'? see them all with: mea-culpa list\n"


def test_validate_exits_0_for_valid_and_2_with_every_problem(cli, tmp_path):
    good = copy_mini(tmp_path / "good")
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINI.read_text().replace("id: mini", "id: Mini").replace("guidance: Why.", "guidanc: Why."), encoding="utf-8")
    assert cli("validate", str(good))[0] == 0
    code, out, err = cli("validate", str(good), str(bad))
    assert code == 2
    assert out.splitlines() == [
        f"{bad}:2:5: id: 'Mini' is not valid: use kebab-case: lowercase words joined by -",
        f"{bad}:28:5: stages[1].guidanc: unknown key 'guidanc' in stage; did you mean 'guidance'?",
    ]
    assert f"{bad}: 2 problems" in err and f"{good}: ok" in err


def test_schema_is_json_schema_and_can_be_written_once(cli, tmp_path):
    code, out, _ = cli("schema")
    assert json.loads(out)["title"] == "mea-culpa playbook"
    target = tmp_path / "s.json"
    assert cli("schema", "-o", str(target))[0] == 0
    code, _, err = cli("schema", "-o", str(target))
    assert code == 2 and "exists" in err
    assert cli("schema", "-o", str(target), "--force")[0] == 0


def test_new_writes_a_playbook_that_validates_and_never_overwrites(cli, tmp_path):
    folder = tmp_path / "pbs"
    code, _, err = cli("new", "late-invoice", "--dir", str(folder))
    path = folder / "late-invoice.yaml"
    assert code == 0, err
    assert path.read_text().startswith("# yaml-language-server: $schema=./playbook.schema.json\n")
    assert (folder / "playbook.schema.json").exists()
    assert load(path).id == "late-invoice"
    before = path.read_text()
    code, _, err = cli("new", "late-invoice", "--dir", str(folder))
    assert code == 2 and "already exists" in err
    assert path.read_text() == before


def test_new_from_an_existing_playbook_copies_it_under_the_new_id(cli, tmp_path):
    folder = tmp_path / "pbs"
    code, _, err = cli("new", "my-mini", "--from", "mini", "--dir", str(folder), "--playbooks", str(DATA / "playbooks"))
    assert code == 0, err
    book = load(folder / "my-mini.yaml")
    assert book.id == "my-mini" and book.title == "Mini (own copy)"
    assert len(book.steps) == len(load(MINI).steps)


def test_new_refuses_a_name_that_is_not_an_id(cli, tmp_path):
    code, _, err = cli("new", "Late Invoice", "--dir", str(tmp_path))
    assert code == 2
    assert err.startswith("error: 'Late Invoice' is not a valid playbook id")


def test_a_usage_mistake_exits_2_without_a_traceback(cli):
    code, _, err = cli("list", "--bogus")
    assert code == 2 and "No such option" in err and "Traceback" not in err


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "mea_culpa", "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.strip() == f"mea-culpa {__version__}"


def test_the_built_in_data_is_found_from_an_editable_install():
    from mea_culpa.paths import builtin_playbooks_dir, builtin_templates_dir

    assert builtin_playbooks_dir().is_dir() and builtin_templates_dir().is_dir()
    assert any(builtin_playbooks_dir().glob("*.yaml"))


def test_no_input_start_without_answers_exits_2_listing_the_missing_ids(cli):
    code, out, err = cli("start", str(MINI), "--no-input")
    assert code == 2
    lines = err.splitlines()
    assert lines[0] == "missing answer: severity: an answer is needed (How bad?)"
    assert "missing answer: lesson: an answer is needed (The lesson)" in lines
    assert lines[-1].startswith("give them with --answers FILE")
    from mea_culpa.paths import journal_path

    assert not journal_path().exists() or "mini" not in journal_path().read_bytes().decode("latin-1")


def test_start_from_an_answers_file_completes_and_is_saved(cli, tmp_path):
    answers = tmp_path / "a.yaml"
    answers.write_text(
        "severity: minor\nwhat_happened: We sent the invoices twice.\ncontributing_factors: No duplicate check.\n"
        "channels: [email]\napology_sent: {state: done}\nfixed: true\n"
        "prevention_actions:\n  - {what: Add a check, owner: Ana, due: 2026-12-01}\nlesson: Check for duplicates.\n",
        encoding="utf-8",
    )
    code, out, err = cli("start", str(MINI), "--answers", str(answers), "--no-input", "--title", "Invoices twice")
    assert code == 0, err
    session_id = out.strip()
    assert session_id.endswith("-invoices-twice")
    from mea_culpa.journal import open_journal

    saved = open_journal().load(session_id)
    assert saved.status == "completed"
    assert saved.steps["what_happened"].value == "We sent the invoices twice."
    assert saved.steps["responsibility"].value == "We sent the invoices twice. That was my mistake."


def test_answers_that_do_not_fit_name_every_id_and_touch_nothing(cli, tmp_path):
    answers = tmp_path / "a.yaml"
    answers.write_text("severity: huge\naffected_count: many\nnot_a_step: 1\nnoticed_at: someday\n", encoding="utf-8")
    code, _, err = cli("start", str(MINI), "--answers", str(answers), "--no-input")
    assert code == 2
    assert err.splitlines() == [
        f"{answers}: severity: 'huge' is not one of none, minor, major, critical",
        f"{answers}: affected_count: 'many' is not a number; write it like 1200, 1,200, ~1200, about 40 or £300",
        f"{answers}: not_a_step: no step with this id in playbook 'mini' (did you mean 'noticed_at'?)",
        f"{answers}: noticed_at: 'someday' is not a date and time; write it like 2026-03-31 14:30, or now, 14:30, yesterday 09:00, last friday 14:30",
    ]
    from mea_culpa.paths import journal_path

    assert not journal_path().exists()


def test_set_on_the_command_line_wins_over_the_answers_file(cli, tmp_path):
    answers = tmp_path / "a.yaml"
    answers.write_text(
        "severity: minor\nwhat_happened: X happened.\ncontributing_factors: Y.\nchannels: [email]\n"
        "apology_sent: done\nfixed: true\nprevention_actions: [{what: Z, owner: A, due: 2026-12-01}]\nlesson: L.\n",
        encoding="utf-8",
    )
    code, out, err = cli("start", str(MINI), "--answers", str(answers), "--set", "severity=major", "--set", "channels=email,phone", "--no-input")
    assert code == 0, err
    from mea_culpa.journal import open_journal

    saved = open_journal().load(out.strip())
    assert saved.steps["severity"].value == "major" and saved.steps["severity"].source == "command-line"
    assert saved.steps["channels"].value == ["email", "phone"]


def test_no_save_leaves_no_journal(cli, tmp_path):
    answers = tmp_path / "a.yaml"
    answers.write_text(
        "severity: none\nwhat_happened: X.\ncontributing_factors: Y.\nfixed: true\n"
        "prevention_actions: [{what: Z, owner: A, due: 2026-12-01}]\nlesson: L.\n",
        encoding="utf-8",
    )
    code, out, err = cli("start", str(MINI), "--answers", str(answers), "--no-input", "--no-save")
    assert code == 0, err
    from mea_culpa.paths import journal_path

    assert not journal_path().exists()
    assert "not saved" in err


def test_an_internal_bug_is_one_line_and_debug_shows_the_traceback(cli, monkeypatch):
    import mea_culpa.playbook.catalog as catalog

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(catalog, "entries", boom)
    code, _, err = cli("list")
    assert code == 1 and err.count("\n") == 1 and "kaboom" in err and "--debug" in err
    with pytest.raises(RuntimeError):
        main(["--debug", "list"])


def test_copy_of_data_is_not_needed_for_show_of_a_file(cli, tmp_path):
    path = copy_mini(tmp_path / "x")
    shutil.copy(path, tmp_path / "copy.yaml")
    assert cli("show", str(tmp_path / "copy.yaml"), "--json")[0] == 0


def test_the_console_entry_keeps_codes_output_and_closes_the_journal(tmp_path, isolated_home):
    """`python -m mea_culpa` as the console script runs it: exit codes, everything printed,
    the journal closed, and nothing kept under the home but the journal."""
    import os
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mea_culpa", *args], capture_output=True, text=True, timeout=120,
            env={**os.environ, "MEA_CULPA_HOME": str(isolated_home)}, stdin=subprocess.DEVNULL,
        )

    answers = Path(__file__).parent / "data" / "answers" / "general.yaml"
    started = run("start", "general", "--answers", str(answers), "--no-input")
    assert started.returncode == 0, started.stderr
    session = started.stdout.strip().splitlines()[-1]
    assert not (isolated_home / "cache").exists()  # no cache: every run reads its playbook afresh
    assert not (isolated_home / "journal.sqlite3-wal").exists()  # the journal was closed
    exported = run("export", session, "-f", "md")
    assert exported.returncode == 0
    assert exported.stdout.startswith("# ") and exported.stdout.endswith("\n") and len(exported.stdout) > 1000
    wrong = run("draft", session, "--message", "no-such-message")
    assert wrong.returncode == 2
    assert wrong.stderr.count("\n") == 1 and "no-such-message" in wrong.stderr
    stopped = run("export", "no-such-session")
    assert stopped.returncode != 0 and "Traceback" not in stopped.stderr
