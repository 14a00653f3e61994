"""`actions --ics`: due items as an iCalendar file that calendar apps import."""

from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar

from mea_culpa.journal import calendar, open_journal
from test_journal import at, item, record


@pytest.fixture
def journal(isolated_home):
    with open_journal() as j:
        yield j


def events(data: bytes) -> list:
    return list(Calendar.from_ical(data).walk("VEVENT"))


def test_a_due_date_becomes_an_all_day_event_with_the_session_in_it(journal):
    record(journal, "2026-03-02-checkout-down", actions=[item("Add a canary", owner="Dana", due="2026-04-01")])
    (event,) = events(calendar.to_ics(journal.actions()))
    assert str(event["summary"]) == "Add a canary"
    assert event.decoded("dtstart") == dt.date(2026, 4, 1)
    assert event.decoded("dtend") == dt.date(2026, 4, 2)
    assert "2026-03-02-checkout-down" in str(event["description"])
    assert "Owner: Dana" in str(event["description"])


def test_a_follow_up_due_at_a_time_is_a_short_timed_event(journal):
    r = record(journal, "a", fix=None, status="in-progress")
    r.draft("status-update", "investigating", minutes=10)
    (event,) = events(calendar.to_ics(journal.actions()))
    assert str(event["summary"]).startswith("Follow-up: Post the next status update")
    start = event.decoded("dtstart")
    assert start == dt.datetime.fromisoformat(at(40).replace("Z", "+00:00"))
    assert event.decoded("dtend") - start == dt.timedelta(minutes=15)


def test_only_open_items_with_a_due_date_are_exported(journal):
    record(journal, "a", actions=[item("Dated"), item("Undated", due=None), item("Done")])
    journal.set_action_status(next(a.id for a in journal.actions() if a.what == "Done"), "done")
    assert [str(e["summary"]) for e in events(calendar.to_ics(journal.actions(include_closed=True)))] == ["Dated"]


def test_uids_are_stable_across_exports_and_edits_of_the_list(journal):
    r = record(journal, "a", actions=[item("Add a canary"), item("Alert on errors")])
    first = {str(e["summary"]): str(e["uid"]) for e in events(calendar.to_ics(journal.actions()))}
    r.answer("prevention_actions", [item("Alert on errors", due="2026-05-01"), item("Add a canary")])
    again = {str(e["summary"]): str(e["uid"]) for e in events(calendar.to_ics(journal.actions()))}
    assert first == again and len(set(first.values())) == 2


def test_the_same_items_give_the_same_file(journal):
    record(journal, "a", actions=[item("Add a canary")])
    assert calendar.to_ics(journal.actions()) == calendar.to_ics(journal.actions())


def test_actions_ics_writes_a_file_and_never_overwrites_without_force(journal, tmp_path, cli):
    record(journal, "a", actions=[item("Add a canary")])
    target = tmp_path / "actions.ics"
    code, _, err = cli("actions", "--ics", str(target))
    assert code == 0 and "1 due item" in err
    assert [str(e["summary"]) for e in events(target.read_bytes())] == ["Add a canary"]
    target.write_text("mine")
    code, _, err = cli("actions", "--ics", str(target))
    assert code == 2 and "--force" in err and target.read_text() == "mine"
    assert cli("actions", "--ics", str(target), "--force")[0] == 0
    assert b"BEGIN:VCALENDAR" in target.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_actions_ics_dash_prints_the_calendar(journal, cli):
    record(journal, "a", actions=[item("Add a canary", owner="Sam")])
    code, out, _ = cli("actions", "--ics", "-", "--owner", "sam")
    assert code == 0 and out.startswith("BEGIN:VCALENDAR") and "Add a canary" in out


def _alarms(event) -> list:
    return list(event.walk("VALARM"))


def test_an_all_day_item_rings_at_nine_on_the_morning_it_is_due(journal):
    record(journal, "a", actions=[item("Add a canary", due="2026-04-01")])
    (event,) = events(calendar.to_ics(journal.actions()))
    (alarm,) = _alarms(event)
    assert str(alarm["action"]) == "DISPLAY" and str(alarm["description"]) == "Due today: Add a canary"
    assert alarm.decoded("trigger") == dt.timedelta(hours=9)
    assert alarm["trigger"].params.get("RELATED", "START") == "START"


def test_a_status_update_due_at_a_time_rings_five_minutes_before(journal):
    r = record(journal, "a", fix=None, status="in-progress")
    r.draft("status-update", "investigating", minutes=10)
    (event,) = events(calendar.to_ics(journal.actions()))
    (alarm,) = _alarms(event)
    assert alarm.decoded("trigger") == dt.timedelta(minutes=-5)


def test_actions_ics_to_stdout_holds_all_day_events_with_alarms_and_stable_uids(cli, journal):
    record(journal, "2026-03-02-checkout-down", actions=[item("Add a canary", due="2026-04-01"), item("Alert on errors", due="2026-04-08")])
    code, first, _ = cli("actions", "--ics", "-")
    assert code == 0
    found = events(first.encode())
    assert [e.decoded("dtstart") for e in found] == [dt.date(2026, 4, 1), dt.date(2026, 4, 8)]
    assert all("VALUE=DATE" in e.to_ical().decode() and len(_alarms(e)) == 1 for e in found)
    again = cli("actions", "--ics", "-")[1]
    assert [str(e["uid"]) for e in events(again.encode())] == [str(e["uid"]) for e in found] and len({str(e["uid"]) for e in found}) == 2
