"""Exports: the checklist in Markdown and HTML (golden files), the versioned JSON shape,
redaction of sensitive answers, and the YAML answers file that replays to the same answers.

Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change, then read the diff.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest

from mea_culpa.errors import UsageError
from mea_culpa.export import document
from mea_culpa.export import formats as export
from mea_culpa.playbook import answers as answers_mod
from mea_culpa.playbook.loading import load
from mea_culpa.playbook.model import Playbook
from mea_culpa.run import session as sm
from message_fixture import DROP, example, fixture_playbook

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).resolve().parent.parent
DRAFT = """Subject: I'm sorry: what went wrong, and how we're putting it right

Hi Mr Okafor,

I'm sorry. We sent your order to an old address (d.okafor@example.com was not told).
"""




class Clock:
    """Timestamps three minutes apart from 16:30 UTC, so that every export is the same."""

    def __init__(self) -> None:
        self.moment = dt.datetime(2026, 3, 14, 16, 30, tzinfo=dt.timezone.utc)

    def __call__(self) -> str:
        self.moment += dt.timedelta(minutes=3)
        return self.moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_session(playbook: Playbook, values: dict[str, Any], *, finish: bool = True) -> sm.Session:
    checked = answers_mod.check_all(playbook, values, source="test")
    clock = Clock()
    session, _ = sm.new_session(playbook, session_id="2026-03-14-wrong-addresses", title="Orders sent to old addresses", now="2026-03-14T16:30:00Z")
    for stage in playbook.stages:
        session, _ = sm.enter_stage(session, stage.kind, now=clock())
        for step in stage.steps:
            if step.id in checked:
                session, _ = sm.set_answer(session, step, checked[step.id], now=clock())
        session, _ = sm.complete_stage(session, stage.kind, now=clock())
    if finish:
        findings = ({"rule": "padding-example", "category": "padding", "level": "suggestion", "line": 5, "column": 1, "match": "d.okafor", "message": "an example finding", "suggestion": ""},)
        session, _ = sm.add_draft(session, sm.Draft("customer-apology", "warm", DRAFT, clock(), None, False, 95, findings))
        session, _ = sm.set_status(session, "completed", now=clock())
    return session


def golden_session() -> tuple[Playbook, sm.Session]:
    """The fixed session of the golden files: one optional step left pending, one action
    skipped and one blocked, one step that does not apply, a sensitive answer, a draft."""
    playbook = fixture_playbook()
    return playbook, make_session(playbook, example(still_to_tell=DROP))


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


# --- Markdown and HTML ----------------------------------------------------------------


def test_markdown_matches_the_golden_file():
    playbook, session = golden_session()
    check_golden("export-fixture.md", export.export_session(playbook, session, "md"))


def test_html_matches_the_golden_file():
    playbook, session = golden_session()
    check_golden("export-fixture.html", export.export_session(playbook, session, "html"))


def test_markdown_marks_each_state_with_a_task_box():
    playbook, session = golden_session()
    text = export.export_session(playbook, session, "md")
    assert "- [x] What happened, in plain words?\n  > On Friday we sent 42" in text
    assert "- [x] Confirm the repair is complete — done" in text
    assert "- [ ] ~~Phone each affected customer~~ — skipped: we wrote to each of them instead" in text
    assert "- [ ] Share the lesson at the team meeting — **blocked**: the next team meeting is on Monday" in text
    assert "- [ ] Who still needs to hear what was done? — pending" in text
    assert "- [ ] ~~What extra will you offer to make up for it?~~ — not applicable" in text
    assert "- [ ] Look at a second courier for holiday weekends · owner: Priya · due 2026-05-01 · idea" in text
    assert "*Completed · 2026-03-14 16:33 UTC → 2026-03-14 17:21 UTC · 48 minutes*" in text


def test_every_answer_is_escaped_in_html():
    playbook = fixture_playbook()
    attack = '<script>alert("x")</script> & <b>bold</b>'
    session = make_session(playbook, example(what_happened=attack, lesson="<img src=x onerror=alert(1)>"))
    session, _ = sm.add_draft(session, sm.Draft("customer-apology", "warm", f"Hello\n{attack}\n", "2026-03-14T18:00:00Z"))
    page = export.export_session(playbook, session, "html")
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_html_is_one_self_contained_page():
    playbook, session = golden_session()
    page = export.export_session(playbook, session, "html")
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert "<style>" in page and "@media print" in page
    for outside in ("<link", "<script", "src=", "http://", "https://"):
        assert outside not in page


def test_markdown_cannot_be_made_to_open_html():
    playbook = fixture_playbook()
    session = make_session(playbook, example(what_happened="<script>alert(1)</script>"))
    text = export.export_session(playbook, session, "md")
    assert "> \\<script>alert(1)\\</script>" in text


def test_a_draft_with_backticks_keeps_its_fence_closed():
    playbook = fixture_playbook()
    session = make_session(playbook, example(), finish=False)
    session, _ = sm.add_draft(session, sm.Draft("social-post", "warm", "Use ```code``` here\n", "2026-03-14T18:00:00Z"))
    text = export.export_session(playbook, session, "md")
    assert "````text\nUse ```code``` here\n````" in text


# --- JSON --------------------------------------------------------------------------------


def test_json_has_the_documented_shape():
    playbook, session = golden_session()
    data = json.loads(export.export_session(playbook, session, "json"))
    assert data["schema_version"] == document.SCHEMA_VERSION == 2
    assert list(data) == [
        "schema_version", "id", "title", "author", "playbook", "status", "severity", "tags", "created", "updated", "completed",
        "duration_seconds", "happened_at", "noticed_at", "redacted", "stages", "still_open", "actions", "messages",
        "drafts_not_shown", "sent", "audience",
    ]
    assert data["playbook"] == {"id": "draft-fixture", "title": "Fixture for drafts and exports", "version": "1"}
    assert [s["stage"] for s in data["stages"]] == ["facts", "cause", "own", "apologize", "fix", "prevent", "move-on"]
    facts = data["stages"][0]
    assert list(facts) == ["stage", "title", "state", "reason", "entered_at", "completed_at", "duration_seconds", "steps"]
    assert facts["duration_seconds"] == 48 * 60
    step = facts["steps"][0]
    assert step == {"id": "severity", "prompt": "How bad is it?", "type": "choice", "state": "answered", "answer": "major", "reason": "", "answered_at": "2026-03-14T16:36:00Z", "sensitive": False}
    states = {s["id"]: (s["state"], s["reason"]) for stage in data["stages"] for s in stage["steps"]}
    assert states["call_customers"] == ("skipped", "we wrote to each of them instead")
    assert states["share_lesson"] == ("blocked", "the next team meeting is on Monday")
    assert states["still_to_tell"] == ("pending", "")
    assert states["make_good"] == ("not-applicable", "")
    assert data["actions"][2] == {"step": "prevention_actions", "what": "Look at a second courier for holiday weekends", "owner": "Priya", "due": "2026-05-01", "effort": None, "commitment": False, "status": "open"}
    assert data["messages"][0]["score"] == 95 and data["messages"][0]["findings"][0]["category"] == "padding"
    assert (data["messages"][0]["latest"], data["messages"][0]["sent"], data["drafts_not_shown"]) == (True, None, 0)
    assert data["still_open"][0] == {
        "kind": "to-do", "step": "share_lesson", "stage": "move-on", "what": "Share the lesson at the team meeting",
        "state": "blocked", "note": "the next team meeting is on Monday", "due": None, "since": "2026-03-14T18:42:00Z",
        "owner": None}
    assert [(i["kind"], i["what"]) for i in data["still_open"][1:]] == [("action", a["what"]) for a in data["actions"]]


def redrafted(session: sm.Session) -> sm.Session:
    """Four runs of the same apology, an edited one abandoned in between, one marked sent."""
    texts = ["Run 1\n", "Run 2\n", "Edited and abandoned\n", "Run 3\n", "Run 4\n"]
    for minute, text in enumerate(texts):
        draft = sm.Draft("customer-apology", "warm", text, f"2026-03-14T19:0{minute}:00Z", None, text.startswith("Edited"))
        session, _ = sm.add_draft(session, draft)
        if text == "Run 2\n":
            session, _ = sm.mark_sent(session, draft, now="2026-03-14T19:10:00Z")
    return session


def test_messages_show_the_latest_draft_of_each_message_and_the_one_sent():
    playbook, session = golden_session()
    session = redrafted(session)
    text = export.export_session(playbook, session, "md")
    messages = text[text.index("## Messages"):]
    assert messages.count("### Apology to the customer") == 2
    assert "Run 4" in messages and "Run 2" in messages
    assert "Run 1" not in messages and "Run 3" not in messages and "Edited and abandoned" not in messages
    assert "sent 2026-03-14 19:10 UTC · an earlier draft" in messages
    assert "*4 earlier drafts are not shown; export with --all-drafts to include every draft.*" in messages
    every = export.export_session(playbook, session, "md", all_drafts=True)
    assert every.count("### Apology to the customer") == 6 and "Edited and abandoned" in every
    assert "not shown" not in every
    data = document.session_data(playbook, session)
    assert [(m["text"].strip(), m["latest"], m["sent"]) for m in data["messages"]] == [
        ("Run 2", False, "2026-03-14T19:10:00Z"), ("Run 4", True, None)]
    assert data["drafts_not_shown"] == 4
    assert "4 earlier drafts are not shown" in export.export_session(playbook, session, "html")


def test_action_status_comes_from_the_journal_when_given():
    playbook, session = golden_session()
    done = {("prevention_actions", "Add a test order to every checkout release and compare its courier label"): "done"}
    data = document.session_data(playbook, session, action_status=done)
    assert [a["status"] for a in data["actions"]] == ["done", "open", "open"]
    assert "- [x] Add a test order" in export.export_session(playbook, session, "md", action_status=done)


# --- sensitive answers -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_sensitive_answers_are_redacted_even_inside_drafts(fmt):
    playbook, session = golden_session()
    text = export.export_session(playbook, session, fmt)
    assert "d.okafor@example.com" not in text.lower()
    assert "[redacted]" in text


@pytest.mark.parametrize("fmt", ["md", "html", "json", "yaml"])
def test_include_sensitive_keeps_them(fmt):
    playbook, session = golden_session()
    assert "d.okafor@example.com" in export.export_session(playbook, session, fmt, include_sensitive=True)


def test_yaml_leaves_sensitive_answers_out_and_says_so():
    playbook, session = golden_session()
    text = export.export_session(playbook, session, "yaml")
    assert "d.okafor" not in text and "customer_email" not in text.split("\nanswers:")[1]
    assert "# sensitive answers left out: customer_email; export with --include-sensitive to keep them" in text


# --- YAML: an answers file that replays ---------------------------------------------------


def _replayed(playbook: Playbook, text: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "answers.yaml"
    path.write_text(text, encoding="utf-8")
    return answers_mod.check_all(playbook, answers_mod.load_file(path), source=str(path))


def _applicable_answers(playbook: Playbook, session: sm.Session) -> dict[str, Any]:
    plan = sm.plan(playbook, session)
    return {
        p.step.id: sm.step_value(p.record)
        for stage in plan.stages
        for p in stage.steps
        if p.applicable and p.record is not None and sm.step_value(p.record) is not None
    }


def test_yaml_export_replays_to_the_same_answers(tmp_path):
    playbook, session = golden_session()
    text = export.export_session(playbook, session, "yaml", include_sensitive=True)
    assert text.startswith("# mea-culpa answers from session 2026-03-14-wrong-addresses (Orders sent to old addresses)\n")
    assert "# replay with: mea-culpa start draft-fixture --answers FILE --no-input\n" in text
    assert _replayed(playbook, text, tmp_path) == _applicable_answers(playbook, session)


def test_yaml_keeps_long_answers_readable():
    playbook, session = golden_session()
    text = export.export_session(playbook, session, "yaml")
    assert "  contributing_factors: |-\n    - the checkout update changed" in text
    assert "  call_customers:\n    state: skipped\n    reason: we wrote to each of them instead\n" in text
    assert "  fix_status:\n    state: done\n" in text


def _builtins() -> list[str]:
    return sorted(p.stem for p in (REPO / "playbooks").glob("*.yaml"))


@pytest.mark.parametrize("playbook_id", _builtins())
def test_every_builtin_replays_from_its_yaml_export_with_the_same_answers_and_states(playbook_id, tmp_path):
    from mea_culpa.journal import memory_journal
    from mea_culpa.run.asking import NoInputAsker
    from mea_culpa.run.runner import Runner

    playbook = load(REPO / "playbooks" / f"{playbook_id}.yaml")

    def run(values: dict[str, Any]) -> sm.Session:
        journal = memory_journal()
        session, change = sm.new_session(playbook, session_id=f"2026-11-22-{playbook_id}", title=playbook_id, now="2026-11-22T10:00:00Z")
        journal.apply(session, change)
        return Runner(playbook, session, journal, NoInputAsker(), prefilled={k: (v, "file") for k, v in values.items()}).run()

    example_values = answers_mod.load_file(REPO / "tests" / "data" / "answers" / f"{playbook_id}.yaml")
    first = run(answers_mod.check_all(playbook, example_values, source="example"))
    text = export.export_session(playbook, first, "yaml", include_sensitive=True)
    second = run(_replayed(playbook, text, tmp_path))
    assert _applicable_answers(playbook, second) == _applicable_answers(playbook, first)
    states = lambda s: {k: (r.state, r.reason) for k, r in s.steps.items()}  # noqa: E731
    assert states(second) == {k: v for k, v in states(first).items() if k in _applicable_answers(playbook, first) or v[0] != "answered"}
    for fmt in ("md", "html", "json"):
        assert export.export_session(playbook, second, fmt)


# --- formats -----------------------------------------------------------------------------


def test_an_unknown_format_names_the_formats():
    playbook, session = golden_session()
    with pytest.raises(UsageError, match="there is no export format 'pdf'; choose md, html, json or yaml"):
        export.export_session(playbook, session, "pdf")


@pytest.mark.parametrize(("name", "fmt"), [("report.html", "html"), ("r.MD", "md"), ("a.yml", "yaml"), ("x.json", "json"), ("notes.txt", None), ("noext", None)])
def test_the_format_follows_the_file_name(name, fmt):
    assert export.format_for_path(name) == fmt


def test_aliases_are_accepted():
    assert export.normalise_format("Markdown") == "md"
    assert export.normalise_format("yml") == "yaml"


# --- skipped stages -------------------------------------------------------------------------


def skipped_part_way(playbook_id: str, skips: dict[str, str]) -> tuple[Playbook, sm.Session]:
    """A built-in run from its example answers, with each stage of `skips` skipped at the
    first step it still had to ask (keeping the answers before it)."""
    from mea_culpa.journal import memory_journal
    from mea_culpa.run.asking import ScriptedAsker, skip_stage
    from mea_culpa.run.runner import Runner

    playbook = load(REPO / "playbooks" / f"{playbook_id}.yaml")
    values = answers_mod.check_all(playbook, answers_mod.load_file(REPO / "tests" / "data" / "answers" / f"{playbook_id}.yaml"), source="example")
    for kind, reason in skips.items():
        stage = next(s for s in playbook.stages if s.kind == kind)
        last = [s.id for s in stage.steps if s.type == "action"][-1]
        values[last] = skip_stage(reason)
    journal = memory_journal()
    session, change = sm.new_session(playbook, session_id="2026-11-22-skips", title="skips", now="2026-11-22T10:00:00Z")
    journal.apply(session, change)
    return playbook, Runner(playbook, session, journal, ScriptedAsker(values)).run()


def test_a_skipped_stage_shows_the_same_in_every_format():
    playbook, session = skipped_part_way("general", {"apologize": "we told Grace in person at the door"})
    data = document.session_data(playbook, session)
    apologize = next(s for s in data["stages"] if s["stage"] == "apologize")
    assert (apologize["state"], apologize["reason"]) == ("skipped", "we told Grace in person at the door")
    states = {s["id"]: s["state"] for s in apologize["steps"] if s["state"] != "not-applicable"}
    assert states["apology_sent"] == "skipped" and "answered" in states.values()
    md = export.export_session(playbook, session, "md")
    section = md[md.index("Apologize"):md.index("## 5.")]
    assert "*Skipped: we told Grace in person at the door · 4 of 5 answered before skipping ·" in section
    assert "~~Send the apology on each of those channels~~ — skipped" in section
    assert "Skipped: we told Grace in person at the door" in export.export_session(playbook, session, "html")
    assert "apology_sent" not in [i["step"] for i in data["still_open"]]


def test_skipped_stages_replay_from_the_yaml_export(cli, tmp_path):
    from mea_culpa.journal import open_journal

    playbook, session = skipped_part_way("general", {"apologize": "we told Grace in person at the door",
                                                      "move-on": "we close this at Friday's meeting"})
    with open_journal() as journal:
        journal.save(session)
    code, text, err = cli("export", session.id, "-f", "yaml", "--include-sensitive")
    assert code == 0, err
    assert "skipped_stages:\n  apologize: we told Grace in person at the door\n  move-on: we close this at Friday's meeting\n" in text
    path = tmp_path / "replay.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, err = cli("start", "general", "--answers", str(path), "--no-input", "--title", "replayed")
    assert code == 0, err
    with open_journal() as journal:
        replayed = journal.load(out.strip())
    stages = lambda s: {k: (r.state, r.reason) for k, r in s.stages.items()}  # noqa: E731
    assert stages(replayed) == stages(session)
    assert {k: sm.step_value(r) for k, r in replayed.steps.items()} == {k: sm.step_value(r) for k, r in session.steps.items()}


def test_an_answers_file_naming_a_stage_the_playbook_lacks_is_refused(cli, tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text("playbook: general\nskipped_stages:\n  apologise: no\n  fix: ''\nanswers: {}\n", encoding="utf-8")
    code, _, err = cli("start", "general", "--answers", str(path), "--no-input")
    assert code == 2
    assert f"{path}: skipped_stages.apologise: playbook 'general' has no such stage (did you mean 'apologize'?)" in err
    assert "skipped_stages.fix: the reason it was skipped: an answer is needed" in err
