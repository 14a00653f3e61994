"""Due action items as an iCalendar file (`actions --ics`), so they land in the user's calendar.

Each open item with a due date becomes a VEVENT: all-day on its due date, or, for an item
due at a time (the next status update, a to-do whose note says "today 15:00"), a
15-minute event at that time. Events
are used rather than VTODOs because every calendar app imports them. UIDs are stable
(see `ActionRow.uid`), so importing the file again updates the events instead of
duplicating them.

Each event carries a reminder (VALARM, a display alarm): at 9:00 on the morning an
all-day item is due, and five minutes before a status update due at a time (a morning
alarm would come hours early for an update due in the afternoon, or too late for one due
at dawn).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from mea_culpa.journal.derived import parse_utc

PRODID = "-//mea-culpa//action items//EN"
TIMED_EVENT = dt.timedelta(minutes=15)
MORNING = dt.timedelta(hours=9)  # after the start of an all-day event: 9:00 on its day
BEFORE_TIMED = dt.timedelta(minutes=-5)


def due_items(items: Iterable[Any]) -> list[Any]:
    """The items a calendar shows: open, with a due date or time that can be read."""
    out = []
    for item in items:
        if item.status != "open" or not item.due:
            continue
        if len(item.due) == 10:
            try:
                dt.date.fromisoformat(item.due)
            except ValueError:
                continue
        elif parse_utc(item.due) is None:
            continue
        out.append(item)
    return out


def to_ics(items: Iterable[Any]) -> bytes:
    """An iCalendar file of the due items (`journal.ActionRow`s). The same items give the
    same bytes: DTSTAMP is the item's last change, not the time of export."""
    from icalendar import Alarm, Calendar, Event

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "mea-culpa action items")
    for item in due_items(items):
        event = Event()
        event.add("uid", item.uid)
        event.add("dtstamp", parse_utc(item.updated_at) or dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc))
        follow_up = item.kind == "follow-up"
        event.add("summary", ("Follow-up: " if follow_up else "") + item.what)
        if len(item.due) == 10:
            day = dt.date.fromisoformat(item.due)
            event.add("dtstart", day)
            event.add("dtend", day + dt.timedelta(days=1))
            event.add("transp", "TRANSPARENT")  # a reminder, not a meeting: leave the day free
        else:
            at = parse_utc(item.due)
            assert at is not None  # due_items kept only readable times
            event.add("dtstart", at)
            event.add("dtend", at + TIMED_EVENT)
        lines = [f"Session: {item.session_id} ({item.session_title})"]
        if item.step_state:  # a to-do left open, and why
            state = "not marked yet" if item.step_state == "pending" else item.step_state
            lines.append(f"{state.capitalize()}: {item.note}" if item.note else state.capitalize())
        if item.owner:
            lines.append(f"Owner: {item.owner}")
        if item.effort:
            lines.append(f"Effort: {item.effort}")
        if item.commitment is not None:
            lines.append("A commitment" if item.commitment else "An idea, not yet a commitment")
        lines.append(f"When it is done: mea-culpa actions done {item.id}")
        event.add("description", "\n".join(lines))
        event.add("categories", ["mea-culpa", {"follow-up": "follow-up", "to-do": "to-do"}.get(item.kind, "prevention")])
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", ("Due today: " if len(item.due) == 10 else "Due in 5 minutes: ") + item.what)
        alarm.add("trigger", MORNING if len(item.due) == 10 else BEFORE_TIMED, parameters={"RELATED": "START"})
        event.add_component(alarm)
        cal.add_component(event)
    return bytes(cal.to_ical())
