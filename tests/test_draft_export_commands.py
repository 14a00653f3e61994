"""`mea-culpa draft` and `mea-culpa export` through the real entry point: data on stdout,
talk on stderr, one line and exit 2 for a usage mistake, every draft kept in the journal."""

from __future__ import annotations

import sys
import textwrap
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from mea_culpa.journal import open_journal
from mea_culpa.playbook import answers as answers_mod
from mea_culpa.playbook.loading import load
from mea_culpa.playbook.model import Playbook
from mea_culpa.run import session as sm

FIXTURE = Path(__file__).parent / "data" / "messages"
DROP = object()


@pytest.fixture(autouse=True)
def validate_each_playbook_once(monkeypatch):
    """Each command loads and fully validates the session's playbook; the validation has
    its own tests, so here each file is validated once to keep these tests fast."""
    from mea_culpa.playbook import catalog

    cached = lru_cache(maxsize=8)(lambda path, mtime: load(path))
    monkeypatch.setattr(catalog, "load", lambda path, **kw: cached(Path(path), Path(path).stat().st_mtime_ns))


@lru_cache(maxsize=1)
def fixture_playbook() -> Playbook:
    return load(FIXTURE / "playbook.yaml")


def save_session(session_id: str = "2026-03-14-wrong-addresses", *, created: str = "2026-03-14T16:30:00Z", **changes: Any) -> sm.Session:
    """A session of the fixture playbook, answered from its example and saved in the journal."""
    playbook = fixture_playbook()
    values = {**answers_mod.load_file(FIXTURE / "answers.yaml"), **changes}
    values = answers_mod.check_all(playbook, {k: v for k, v in values.items() if v is not DROP}, source="test")
    session, _ = sm.new_session(playbook, session_id=session_id, title="Orders sent to old addresses", now=created)
    for stage in playbook.stages:
        session, _ = sm.enter_stage(session, stage.kind, now=created)
        for step in stage.steps:
            if step.id in values:
                session, _ = sm.set_answer(session, step, values[step.id], now=created)
        session, _ = sm.complete_stage(session, stage.kind, now=created)
    with open_journal() as journal:
        journal.save(session)
    return session


def stored_drafts(session_id: str = "2026-03-14-wrong-addresses") -> tuple[sm.Draft, ...]:
    with open_journal() as journal:
        return journal.load(session_id).drafts


def editor_script(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text(textwrap.dedent(body), encoding="utf-8")
    return f"{sys.executable} {script}"


# --- draft ---------------------------------------------------------------------------------


def test_draft_prints_only_the_draft_on_stdout_and_keeps_it(cli):
    save_session()
    code, out, err = cli("draft", "--message", "customer-apology")
    assert code == 0
    assert out.startswith("Subject: I'm sorry about the problem with delivery addresses on new orders\n\nHi Mr Okafor,\n")
    assert "customer-apology · warm · kept in session 2026-03-14-wrong-addresses" in err
    assert "Subject:" not in err
    [kept] = stored_drafts()
    assert (kept.message_id, kept.tone, kept.phase, kept.edited, kept.text) == ("customer-apology", "warm", None, False, out)


def test_every_draft_is_checked_and_its_score_shown_and_stored(cli):
    if not hasattr(pytest.importorskip("mea_culpa.apology"), "check_text"):
        pytest.skip("the apology check is not in this build")
    save_session()
    code, _, err = cli("draft", "-m", "customer-apology")
    assert code == 0
    [kept] = stored_drafts()
    assert kept.score is not None and f"apology check: {kept.score}/100" in err


def test_a_status_update_is_checked_as_a_message_not_scored_as_an_apology(cli):
    """An "investigating" update owes no apology's parts: it is checked only for the phrases
    that would hurt it, and says so ("message check"), never "apology check: 0/100"."""
    save_session()
    code, out, err = cli("draft", "-m", "status-update", "--phase", "investigating")
    assert code == 0 and out
    [kept] = stored_drafts()
    assert f"message check: {kept.score}/100" in err and "apology check" not in err
    assert kept.score >= 80
    assert "tip:" not in err


def test_draft_uses_the_latest_session_by_default_and_takes_a_prefix(cli):
    save_session("2026-03-01-older", created="2026-03-01T09:00:00Z")
    save_session("2026-03-14-wrong-addresses")
    assert cli("draft", "-m", "social-post")[0] == 0
    assert len(stored_drafts()) == 1
    assert cli("draft", "2026-03-01", "-m", "social-post")[0] == 0
    assert len(stored_drafts("2026-03-01-older")) == 1


def test_draft_status_update_for_a_phase(cli):
    save_session()
    code, out, err = cli("draft", "-m", "status-update", "--phase", "resolved", "--tone", "formal")
    assert code == 0
    assert out.startswith("The problem affecting delivery addresses on new orders has been resolved")
    assert stored_drafts()[0].phase == "resolved"


def test_without_a_message_and_a_terminal_the_ids_are_listed(cli):
    save_session()
    code, out, err = cli("draft")
    assert (code, out) == (2, "")
    assert err == "error: choose a message with --message: customer-apology, status-update, follow-up, internal-note, personal-note, social-post, thank-you\n"


def test_without_a_message_at_a_terminal_the_asker_offers_a_choice(cli, monkeypatch):
    from mea_culpa.cli import draft as draft_command
    from mea_culpa.cli import prompts as asking

    save_session()
    asked = []

    def choose(self, title, choices):
        asked.append((title, [value for value, _ in choices]))
        return "social-post" if title == "Which message?" else None

    monkeypatch.setattr(draft_command, "_interactive", lambda: True)
    monkeypatch.setattr(asking.QuestionaryAsker, "__init__", lambda self: None)
    monkeypatch.setattr(asking.QuestionaryAsker, "choose", choose, raising=False)
    code, out, _ = cli("draft")
    assert code == 0 and out.startswith("On Friday we sent 42")
    assert asked[0][0] == "Which message?" and "personal-note" in asked[0][1]


def test_a_status_update_without_a_phase_names_the_phases(cli):
    save_session()
    code, out, err = cli("draft", "-m", "status-update")
    assert (code, out) == (2, "")
    assert err == "error: the status-update message needs --phase: investigating, identified, monitoring, resolved\n"


def test_light_tone_for_a_major_mistake_is_one_line_and_exit_2(cli):
    save_session()
    code, out, err = cli("draft", "-m", "customer-apology", "--tone", "light")
    assert (code, out) == (2, "")
    assert err == "error: a light tone is for small mistakes, and this one is major; use --tone warm or --tone formal\n"
    assert stored_drafts() == ()


def test_a_missing_answer_is_one_line_and_exit_2(cli):
    save_session(what_happened=DROP)
    code, out, err = cli("draft", "-m", "customer-apology")
    assert (code, out) == (2, "")
    assert err == (
        "error: the draft needs an answer to 'what_happened' (\"What happened, in plain words?\", stage facts); "
        "add it with: mea-culpa resume 2026-03-14-wrong-addresses\n"
    )


def test_no_journal_yet_says_how_to_start(cli):
    code, _, err = cli("draft", "-m", "customer-apology")
    assert code == 2
    assert err.startswith("error: the journal is empty\n")


def test_draft_to_a_file_never_overwrites_without_force(cli, tmp_path):
    save_session()
    target = tmp_path / "apology.txt"
    code, out, err = cli("draft", "-m", "customer-apology", "-o", str(target))
    assert (code, out) == (0, "")
    assert target.read_text(encoding="utf-8").startswith("Subject: I'm sorry")
    assert f"wrote {target}" in err
    target.write_text("mine", encoding="utf-8")
    code, _, err = cli("draft", "-m", "customer-apology", "-o", str(target))
    assert code == 2 and err == f"error: {target} exists; pass --force to overwrite\n"
    assert target.read_text(encoding="utf-8") == "mine"
    assert len(stored_drafts()) == 1  # refused before drafting
    assert cli("draft", "-m", "customer-apology", "-o", str(target), "--force")[0] == 0
    assert target.read_text(encoding="utf-8").startswith("Subject: I'm sorry")


def test_edit_keeps_the_rendered_and_the_edited_draft(cli, tmp_path, monkeypatch):
    save_session()
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv(
        "EDITOR",
        editor_script(
            tmp_path,
            """
            import sys
            from pathlib import Path
            path = Path(sys.argv[1])
            path.write_text(path.read_text().replace("Best wishes,", "With my apologies again,"))
            """,
        ),
    )
    code, out, err = cli("draft", "-m", "customer-apology", "--edit")
    assert code == 0
    assert "With my apologies again,\nPriya Raman" in out
    rendered, edited = stored_drafts()
    assert (rendered.edited, edited.edited) == (False, True)
    assert "Best wishes," in rendered.text and edited.text == out
    assert "customer-apology · warm · edited · kept in session" in err


def test_edit_without_changes_keeps_one_draft(cli, tmp_path, monkeypatch):
    save_session()
    monkeypatch.setenv("VISUAL", editor_script(tmp_path, "pass\n"))
    code, out, err = cli("draft", "-m", "social-post", "--edit")
    assert code == 0 and out.startswith("On Friday")
    assert "no changes in the editor" in err
    assert len(stored_drafts()) == 1


def test_edit_without_an_editor_says_how_to_set_one(cli, monkeypatch):
    save_session()
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    code, _, err = cli("draft", "-m", "social-post", "--edit")
    assert code == 2
    assert err == "error: --edit needs an editor: set VISUAL or EDITOR, e.g. export EDITOR=nano\n"


def test_a_failing_editor_keeps_the_rendered_draft(cli, tmp_path, monkeypatch):
    save_session()
    monkeypatch.setenv("VISUAL", editor_script(tmp_path, "raise SystemExit(3)\n"))
    code, out, err = cli("draft", "-m", "social-post", "--edit")
    assert code == 0 and out.startswith("On Friday")
    assert "the editor exited with status 3; the draft is kept as it was rendered" in err


# --- export --------------------------------------------------------------------------------


def test_export_prints_markdown_by_default(cli):
    save_session()
    code, out, err = cli("export")
    assert code == 0 and err == ""
    assert out.startswith("# Orders sent to old addresses\n")
    assert "- [x] What happened, in plain words?" in out


def test_export_takes_the_format_from_the_output_name(cli, tmp_path):
    save_session()
    target = tmp_path / "report.html"
    code, out, err = cli("export", "-o", str(target))
    assert (code, out) == (0, "")
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert err == f"wrote {target} (html)\n"


def test_export_never_overwrites_without_force(cli, tmp_path):
    save_session()
    target = tmp_path / "report.json"
    target.write_text("mine", encoding="utf-8")
    code, _, err = cli("export", "-o", str(target))
    assert code == 2 and err == f"error: {target} exists; pass --force to overwrite\n"
    assert target.read_text(encoding="utf-8") == "mine"
    assert cli("export", "-o", str(target), "--force")[0] == 0
    assert target.read_text(encoding="utf-8").startswith("{\n  \"schema_version\": 2,")


def test_export_yaml_replays_and_redacts_unless_asked(cli, tmp_path):
    save_session()
    code, out, _ = cli("export", "--format", "yaml")
    assert code == 0 and "d.okafor@example.com" not in out
    code, out, _ = cli("export", "-f", "yaml", "--include-sensitive")
    assert "customer_email: d.okafor@example.com" in out
    path = tmp_path / "again.yaml"
    path.write_text(out, encoding="utf-8")
    playbook = fixture_playbook()
    assert answers_mod.check_all(playbook, answers_mod.load_file(path), source="again")["customer_email"] == "d.okafor@example.com"


def test_export_shows_drafts_with_their_score(cli):
    save_session()
    cli("draft", "-m", "social-post")
    code, out, _ = cli("export")
    assert code == 0
    assert "## Messages\n\n### Social post · warm · " in out


def test_export_reads_action_status_from_the_journal(cli):
    save_session()
    with open_journal() as journal:
        first = next(a for a in journal.actions() if a.what.startswith("Add a test order to every checkout release"))
        journal.set_action_status(first.id, "done")
    code, out, _ = cli("export")
    assert "- [x] Add a test order to every checkout release" in out


def test_an_unknown_export_format_is_one_line(cli):
    save_session()
    code, out, err = cli("export", "-f", "pdf")
    assert (code, out) == (2, "")
    assert err == "error: there is no export format 'pdf'; choose md, html, json or yaml\n"


@pytest.mark.parametrize("command", ["draft", "export"])
def test_help_has_an_example(cli, command):
    code, out, _ = cli(command, "--help")
    assert code == 0
    assert "Example" in out
