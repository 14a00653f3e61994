"""`history`, `actions`, `stats`, `forget` and `journal` through the real entry point, on both engines."""

from __future__ import annotations

import datetime as dt
import io
import json
import runpy
import sys
from pathlib import Path

import pytest

from mea_culpa import paths
from mea_culpa.cli import journal as commands
from mea_culpa.journal import open_journal
from test_journal import SECRET, START, every_text, file_bytes, item, record, secret_session

REPO = Path(__file__).parent.parent


@pytest.fixture
def journal(store_url):
    """On SQLite and on PostgreSQL (conftest.store_url sets MEA_CULPA_DATABASE_URL for the CLI)."""
    with open_journal(store_url) as j:
        yield j


# --- dates ----------------------------------------------------------------------------------

TODAY = dt.date(2026, 3, 31)


@pytest.mark.parametrize(
    "text, day",
    [
        ("2026-01-15", dt.date(2026, 1, 15)),
        ("today", TODAY),
        ("30 days ago", dt.date(2026, 3, 1)),
        ("2 weeks ago", dt.date(2026, 3, 17)),
        ("1 month ago", dt.date(2026, 2, 28)),
        ("3 months ago", dt.date(2025, 12, 31)),
        ("1 year ago", dt.date(2025, 3, 31)),
    ],
)
def test_dates_are_read_as_iso_or_as_words(text, day):
    assert commands.parse_day(text, "--since", TODAY) == day


def test_a_bad_date_is_one_line_and_exit_2(cli, journal):
    code, out, err = cli("history", "--since", "the other day")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == ["error: --since: 'the other day' is not a date; write it like 2026-03-31, today, or 30 days ago"]


# --- history ----------------------------------------------------------------------------------


def test_history_shows_the_newest_sessions_with_their_titles(cli, journal):
    record(journal, "2026-03-01-old-one", title="The old one", start=START.replace(day=1))
    record(journal, "2026-03-09-new-one", title="The new one", start=START.replace(day=9), severity="critical")
    code, out, err = cli("history")
    assert code == 0
    assert out.index("2026-03-09-new-one") < out.index("2026-03-01-old-one")
    assert "The new one" in out and "critical" in out and "service-outage" in out
    assert "page 1 of 1 (2 sessions)" in err


def test_history_pages_and_says_how_to_get_the_next_page(cli, journal):
    for day in range(1, 6):
        record(journal, f"s{day}", start=START.replace(day=day))
    code, out, err = cli("history", "--limit", "2", "--page", "2")
    assert "s3" in out and "s2" in out and "s5" not in out
    assert "page 2 of 3" in err and "--page 3" in err


def test_history_json_is_one_object_per_session(cli, journal):
    record(journal, "a", tags=("eu",), actions=[item("One")])
    code, out, _ = cli("history", "--json", "--tag", "eu")
    (row,) = json.loads(out)
    assert row["id"] == "a" and row["open_actions"] == 1 and row["tags"] == ["eu"]
    assert set(row) >= {"id", "started", "playbook", "title", "severity", "status", "stage_reached", "open_actions"}


def test_history_of_an_empty_journal_says_how_to_start(cli):
    code, out, err = cli("history")
    assert (code, out) == (0, "") and "mea-culpa start" in err
    assert not paths.journal_path().exists()  # looking does not create a journal
    assert cli("history", "--json")[1] == "[]\n"


def test_history_refuses_an_unknown_status(cli, journal):
    code, _, err = cli("history", "--status", "done")
    assert code == 2 and "in-progress, completed, abandoned" in err


# --- actions ----------------------------------------------------------------------------------


def test_actions_lists_open_items_with_owner_due_and_session_and_marks_overdue_and_follow_ups(cli, journal):
    r = record(journal, "2026-03-02-checkout-down", actions=[item("Add a canary", owner="Dana", due="2000-01-01")])
    r.draft("customer-apology")
    code, out, _ = cli("actions")
    assert code == 0
    line = next(x for x in out.splitlines() if "Add a canary" in x)
    assert "Dana" in line and "2000-01-01" in line and "overdue" in line and "2026-03-02-checkout-down" in line
    assert "follow-up: Send the follow-up message" in out


def test_actions_json_carries_kind_and_overdue(cli, journal):
    record(journal, "a", actions=[item("Add a canary", due="2000-01-01"), item("Later", due="2999-01-01", owner="Sam")])
    code, out, _ = cli("actions", "--json", "--overdue")
    (row,) = json.loads(out)
    assert (row["what"], row["overdue"], row["follow_up"], row["session"]) == ("Add a canary", True, False, "a")
    assert [r["what"] for r in json.loads(cli("actions", "--json", "--owner", "SAM")[1])] == ["Later"]


def test_actions_done_and_drop_change_the_status(cli, journal):
    record(journal, "a", actions=[item("One"), item("Two")])
    one, two = (a.id for a in journal.actions())
    code, _, err = cli("actions", "done", str(one))
    assert code == 0 and "Done" in err and "One" in err
    code, _, err = cli("actions", "drop", str(two), "--reason", "no budget this year")
    assert code == 0 and "no budget this year" in err
    assert cli("actions", "--json")[1] == "[]\n"
    rows = json.loads(cli("actions", "--all", "--json")[1])
    assert {r["what"]: (r["status"], r["reason"]) for r in rows} == {"One": ("done", ""), "Two": ("dropped", "no budget this year")}
    assert cli("actions", "reopen", str(one))[0] == 0


def test_drop_without_a_reason_and_done_of_an_unknown_id_exit_2(cli, journal):
    record(journal, "a", actions=[item("One")])
    code, _, err = cli("actions", "drop", str(journal.actions()[0].id))
    assert code == 2 and "--reason" in err
    code, _, err = cli("actions", "done", "999")
    assert code == 2 and "no action item 999" in err


def test_actions_shows_fifty_items_and_says_how_to_see_all(cli, journal):
    record(journal, "a", actions=[item(f"Item {n:02d}") for n in range(55)])
    code, out, err = cli("actions")
    assert "Item 49" in out and "Item 50" not in out and "showing 50 of 55" in err
    assert "Item 54" in cli("actions", "--limit", "0")[1]


# --- stats ------------------------------------------------------------------------------------


def test_stats_draws_months_and_medians_and_flags_a_pattern_without_learning(cli, journal):
    record(journal, "a", factors="No review step before sending", start=START.replace(month=1))
    record(journal, "b", factors="no review steps before send", start=START.replace(month=3), own=60)
    code, out, _ = cli("stats")
    assert code == 0
    assert "2026-01" in out and "2026-02" in out and "\u2588" in out
    assert "to own it" in out and "1 h 10 min" in out  # the median of 50 and 90 minutes from noticed
    assert "No review step before sending" in out or "no review steps before send" in out
    assert "without learning" in out


def test_stats_json_has_every_figure(cli, journal):
    record(journal, "a", actions=[item("One")], tags=("eu",))
    code, out, _ = cli("stats", "--json", "--since", "2026-01-01")
    data = json.loads(out)
    assert data["sessions"] == 1 and data["by_tag"] == {"eu": 1}
    assert set(data) >= {"by_playbook", "by_severity", "per_month", "time_from_noticed", "prevention_actions", "recurring_factors"}
    assert data["time_from_noticed"]["owned"]["median_seconds"] == 50 * 60


def test_stats_of_an_empty_journal_says_so(cli):
    code, out, err = cli("stats")
    assert code == 0 and "No sessions" in err
    assert json.loads(cli("stats", "--json")[1])["sessions"] == 0


def test_bars_use_eighth_blocks_or_hashes_without_unicode():
    assert commands.bar(1, 2, 8) == "\u2588" * 4
    assert commands.bar(1, 16, 1) == "\u258f"
    assert commands.bar(1, 2, 8, unicode=False) == "####"
    assert commands.bar(0, 2) == "" == commands.bar(1, 0)


@pytest.mark.parametrize("uni", [True, False])
def test_the_prevention_bar_is_filled_as_far_as_actions_are_done(uni: bool):
    """Issue 19: with nothing done the bar drew full width; it is the empty track."""
    from mea_culpa.journal.stats import ActionCounts

    full, empty = ("\u2588", "\u2591") if uni else ("#", "-")
    nothing_done = commands._stacked(ActionCounts(open=3, overdue=1), unicode=uni, width=12).plain
    assert nothing_done == empty * 12
    half = commands._stacked(ActionCounts(open=1, done=2, dropped=1), unicode=uni, width=12).plain
    assert half == full * 6 + empty * 6
    assert commands._stacked(ActionCounts(done=4), unicode=uni, width=12).plain == full * 12


def test_stats_with_no_action_done_draws_no_filled_bar(cli, journal):
    record(journal, "a", actions=[item("One"), item("Two")])
    code, out, _ = cli("stats")
    assert code == 0
    lines = out.splitlines()
    rate = next(i for i, line in enumerate(lines) if line.startswith("Prevention actions: 0 of 2 done (0%)"))
    assert lines[rate + 1].strip() and set(lines[rate + 1].strip()) <= {"\u2591", "-"}


# --- forget -----------------------------------------------------------------------------------


def test_forget_without_yes_and_without_a_terminal_refuses_with_a_hint(cli, journal):
    record(journal, "a")
    code, out, err = cli("forget", "a")
    assert code == 2
    assert err.strip().splitlines() == ["error: forget asks for a confirmation, and there is no terminal to ask", "pass --yes to confirm"]
    assert journal.exists("a")


def test_forget_yes_deletes_the_session_and_its_facts_leave_the_file(cli, journal):
    secret_session(journal)
    code, _, err = cli("forget", "2026-03-02-inv", "--yes")  # a unique beginning of the id is enough
    assert code == 0 and "Forgot 2026-03-02-invoice" in err
    assert not journal.exists("2026-03-02-invoice")
    assert SECRET not in every_text(journal)
    if journal.path is not None:
        assert SECRET.encode() not in file_bytes(paths.journal_path())


def test_forget_keep_lessons_reports_the_new_id(cli, journal):
    secret_session(journal)
    code, _, err = cli("forget", "2026-03-02-invoice", "--keep-lessons", "--yes")
    assert code == 0 and "2026-03-02-facts-forgotten" in err
    assert SECRET not in every_text(journal)
    if journal.path is not None:
        assert SECRET.encode() not in file_bytes(paths.journal_path())
    assert json.loads(cli("history", "--json")[1])[0]["facts_forgotten"] is True


def test_forget_before_a_date_removes_only_the_older_sessions(cli, journal):
    for day in (1, 3, 9):
        record(journal, f"s{day}", start=START.replace(day=day))
    code, _, err = cli("forget", "--before", "2026-03-05", "--yes")
    assert code == 0 and "Forgot 2 sessions" in err
    assert [r.id for r in journal.history()] == ["s9"]
    assert "nothing to forget" in cli("forget", "--before", "2026-03-05", "--yes")[2]


def test_forget_asks_at_a_terminal_and_no_keeps_everything(cli, journal, monkeypatch):
    record(journal, "a")
    monkeypatch.setattr(commands, "_interactive", lambda: True)
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    code, _, err = cli("forget", "a")
    assert code == 0 and "deletes a" in err and "Nothing was forgotten" in err
    assert journal.exists("a")
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    assert cli("forget", "a")[0] == 0
    assert not journal.exists("a")


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "name the session to forget"),
        (("a", "--before", "2026-01-01"), "not both"),
        (("nope", "--yes"), "no session 'nope'"),
        (("--vacuum", "a"), "--vacuum only compacts"),
    ],
)
def test_forget_usage_mistakes_exit_2(cli, journal, args, message):
    record(journal, "a")
    code, _, err = cli("forget", *args)
    assert code == 2 and message in err


def test_forget_vacuum_compacts_the_file_or_vacuums_the_tables(cli, journal):
    record(journal, "a")
    code, _, err = cli("forget", "--vacuum")
    assert code == 0 and ("vacuumed" if journal.location.is_server else "compacted") in err


# --- on real runs and on the synthetic journal ---------------------------------------------------


def test_the_commands_work_on_a_journal_built_by_a_real_run(cli):
    code, _, _ = cli("start", "service-outage", "--answers", str(REPO / "tests/data/answers/service-outage.yaml"), "--no-input")
    assert code == 0
    (row,) = json.loads(cli("history", "--json")[1])
    assert (row["playbook"], row["status"], row["stage_reached"]) == ("service-outage", "completed", "move-on")
    items = json.loads(cli("actions", "--json")[1])
    assert items and all(a["owner"] and a["due"] for a in items)
    data = json.loads(cli("stats", "--json")[1])
    assert data["sessions"] == 1 and data["time_from_noticed"]["fixed"]["sessions"] == 1
    assert data["prevention_actions"]["open"] == len(items)


def test_the_commands_work_on_the_synthetic_benchmark_journal(cli, isolated_home, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["make_journal.py", "--sessions", "60", "--home", str(isolated_home)])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(REPO / "benchmarks/make_journal.py"), run_name="__main__")
    assert done.value.code == 0
    assert json.loads(cli("stats", "--json")[1])["sessions"] == 60
    assert len(json.loads(cli("history", "--json", "--limit", "100")[1])) == 60
    code, out, _ = cli("stats")
    assert code == 0 and "Recurring contributing factors" in out
    assert cli("actions", "--overdue")[0] == 0


def test_forget_before_keeping_lessons_sums_up_many_sessions(cli, journal):
    for day in range(1, 6):
        record(journal, f"s{day}", start=START.replace(day=day), lesson="Slow down.")
    code, _, err = cli("forget", "--before", "2026-03-09", "--keep-lessons", "--yes")
    assert code == 0 and "of 5 sessions" in err
    assert {r.title for r in journal.history()} == {"(facts forgotten)"}


def test_forget_exits_1_with_the_way_out_when_the_file_could_not_be_compacted(cli, journal, monkeypatch):
    from mea_culpa.journal import Journal

    record(journal, "a")
    monkeypatch.setattr(Journal, "scrub", lambda self: False)
    code, _, err = cli("forget", "a", "--yes")
    assert code == 1 and "still in the file" in err and "mea-culpa forget --vacuum" in err
    assert not journal.exists("a")


# --- what a run leaves open -----------------------------------------------------------------------


def test_a_run_with_two_to_dos_put_off_and_one_blocked_shows_all_three_in_actions_history_and_the_export(cli, journal, tmp_path):
    """Issue 19: everything the run's summary calls "Still open" is in `actions` (with its
    note and date), in `--json` and `--ics`, in `history`'s Open count and in the export."""
    import datetime as dt

    from icalendar import Calendar

    from mea_culpa.run.session import local_to_utc
    from test_session import TWO_LATER_ONE_BLOCKED, book, write_answers

    general = book("general")
    code, out, err = cli("start", "general", "--answers", str(write_answers(tmp_path, "general", TWO_LATER_ONE_BLOCKED)), "--no-input")
    assert code == 0, err
    session_id = out.strip()
    assert "Still open:" in err

    expected = [
        ("stop_the_damage", "later", "today 15:00, after the walk"),
        ("apology_sent", "later", "call Grace first"),
        ("fix_status", "blocked", "the locksmith comes on Monday"),
    ]
    items = json.loads(cli("actions", "--json")[1])
    to_dos = [i for i in items if i["kind"] == "to-do"]
    assert sorted((i["what"], i["step_state"], i["note"]) for i in to_dos) == sorted(
        (general.step(step).prompt, state, note) for step, state, note in expected
    )
    assert {i["status"] for i in to_dos} == {"open"} and {i["session"] for i in to_dos} == {session_id}
    today = dt.date.today().isoformat()
    due = {i["what"]: i["due"] for i in to_dos}
    assert due[general.step("stop_the_damage").prompt] == local_to_utc(f"{today}T15:00")
    assert due[general.step("apology_sent").prompt] is None

    code, table, _ = cli("actions")
    assert code == 0
    for step, state, note in expected:
        assert general.step(step).prompt in table
        assert f"{state}: {note}" in table

    ics = tmp_path / "open.ics"
    assert cli("actions", "--ics", str(ics))[0] == 0
    (event,) = [e for e in Calendar.from_ical(ics.read_bytes()).walk("VEVENT") if "to-do" in str(e["categories"].cats)]
    assert str(event["summary"]) == general.step("stop_the_damage").prompt
    assert event["dtstart"].dt == dt.datetime.fromisoformat(f"{today}T15:00").astimezone()
    assert "Later: today 15:00, after the walk" in str(event["description"])

    (row,) = json.loads(cli("history", "--json")[1])
    assert row["open_actions"] == len(items) == 3 + len(json.loads(cli("export", session_id, "-f", "json")[1])["actions"])

    exported = json.loads(cli("export", session_id, "-f", "json")[1])
    assert [(i["step"], i["state"], i["note"]) for i in exported["still_open"] if i["kind"] == "to-do"] == expected

    # done with `actions done`: gone from the open items, the Open count and the export's "Still open"
    apology = next(i for i in to_dos if i["note"] == "call Grace first")
    assert cli("actions", "done", str(apology["id"]))[0] == 0
    assert apology["id"] not in [i["id"] for i in json.loads(cli("actions", "--json")[1])]
    assert json.loads(cli("history", "--json")[1])[0]["open_actions"] == len(items) - 1
    exported = json.loads(cli("export", session_id, "-f", "json")[1])
    assert "apology_sent" not in [i["step"] for i in exported["still_open"]]
