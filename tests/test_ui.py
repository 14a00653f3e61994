"""The rich views show user text as text, whatever it contains."""

from __future__ import annotations

from mea_culpa.cli import ui
from mea_culpa.playbook.loading import load
from mea_culpa.run import session as sm


def test_answers_with_markup_characters_are_shown_literally(mini_playbook_path, capsys):
    book = load(mini_playbook_path)
    session, _ = sm.new_session(book, session_id="s", title="Title [bold]x[/bold] [/x]", now="2026-11-22T10:00:00Z")
    session, _ = sm.set_answer(session, book.step("what_happened"), "We broke it [/x] [red]", now="2026-11-22T10:01:00Z")
    session, _ = sm.set_answer(session, book.step("noticed_at"), "2026-11-20T09:30", now="2026-11-22T10:01:00Z")
    plan = sm.plan(book, session)
    ui.resumed(session, plan, changed=False)
    ui.summary(session, plan, saved=True)
    err = capsys.readouterr().err
    assert "We broke it [/x] [red]" in err
    assert "Title [bold]x[/bold] [/x]" in err
    assert "2026-11-20 09:30" in err  # a date and time reads as one, without the ISO "T"


def test_a_stage_header_shows_its_position(mini_playbook_path, capsys):
    book = load(mini_playbook_path)
    session, _ = sm.new_session(book, session_id="s", title="T", now="2026-11-22T10:00:00Z")
    planned = sm.plan(book, session).stages[2]
    ui.stage_header(planned, 3, 7)
    err = capsys.readouterr().err
    assert "[3/7] Own it" in err and "Own it." in err


def _finished_plan(book):
    session, _ = sm.new_session(book, session_id="2026-11-22-s", title="T", now="2026-11-22T10:00:00Z")
    session, _ = sm.set_answer(session, book.step("what_happened"), "We broke it [/x]", now="2026-11-22T10:01:00Z")
    return session, sm.plan(book, session)


def test_the_summary_is_plain_text_when_stderr_is_not_a_terminal(mini_playbook_path, capsys, monkeypatch):
    """Logs and scripts get lines without boxes or markup (and the run need not load rich)."""
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    session, plan = _finished_plan(load(mini_playbook_path))
    ui.summary(session, plan, saved=True)
    err = capsys.readouterr().err
    assert ui.plain()
    assert "Done. 1 step answered." in err
    assert "    mea-culpa draft 2026-11-22-s\n" in err and "    mea-culpa export 2026-11-22-s -f md\n" in err
    assert not set(err) & set("╭╮╰╯│─")  # no panel
    ui.summary(session, plan, saved=False)
    assert "This session was not saved (--no-save)." in capsys.readouterr().err


def test_the_summary_is_a_panel_when_colour_is_forced(mini_playbook_path, capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    ui.console.cache_clear()
    try:
        session, plan = _finished_plan(load(mini_playbook_path))
        ui.summary(session, plan, saved=True)
        err = capsys.readouterr().err
    finally:
        ui.console.cache_clear()
    assert not ui.plain()
    assert "Summary" in err and "╭" in err and "mea-culpa draft 2026-11-22-s" in err


def test_quoted_answers_show_each_message_as_the_persons_own_with_its_sentences(capsys):
    from mea_culpa.run.runner import Quote

    ui.answer_quotes([
        Quote("customer-apology", "Apology to affected customers", ("For you, that meant [bold]x[/bold] \x1b[31mred.",)),
        Quote("sms", "SMS to the people affected", ("We're sorry.", "It's fixed."), more=True),
    ], hint="Ctrl-R to rephrase it")
    lines = [line.rstrip() for line in capsys.readouterr().err.splitlines()]
    assert lines == [
        "  Your apology to affected customers will say:  (Ctrl-R to rephrase it)",
        "    For you, that meant [bold]x[/bold] red.",  # markup as text, the escape sequence gone
        "  Your SMS to the people affected will say:",
        "    We're sorry.",
        "    It's fixed.",
        "    …",
    ]
