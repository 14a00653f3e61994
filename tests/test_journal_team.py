"""The team journal: choosing the store, its commands (upgrade, info, copy), who wrote what,
two people on one session, many writers at once, and a server that goes away.

Tests that take `store_url` run on SQLite and on the test PostgreSQL server; those that are
about a server ask for the PostgreSQL one only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mea_culpa.errors import StorageError
from mea_culpa.journal import SessionHeld, open_journal, spool, who
from mea_culpa.journal.engine import ServerGone, locate
from mea_culpa.journal.tables import HEAD
from mea_culpa.playbook.loading import load
from mea_culpa.run import session as sm
from mea_culpa.run.asking import ScriptedAsker
from mea_culpa.run.runner import Runner
from test_journal import START, item, record

MINI = Path(__file__).parent / "data" / "playbooks" / "mini.yaml"
ANSWERS = {
    "severity": "major",
    "what_happened": "The nightly export mailed every invoice to the wrong client.",
    "affected_count": 40,
    "contributing_factors": "The address mapping was not checked after the migration.",
    "responsibility": "I ran the migration without checking the mapping. That was my mistake.",
    "channels": ["email"],
    "apology_sent": {"state": "done"},
    "fixed": True,
    "prevention_actions": [{"what": "Check the mapping", "owner": "Ana", "due": "2026-12-01"}],
    "lesson": "Check a migration on a sample first.",
}
POSTGRES_ONLY = pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)


@pytest.fixture
def journal(store_url):
    with open_journal(store_url) as j:
        yield j


def answers_file(tmp_path: Path, answers: dict[str, Any] = ANSWERS) -> str:
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump(answers, sort_keys=False), encoding="utf-8")
    return str(path)


# --- choosing the store ----------------------------------------------------------------------


@POSTGRES_ONLY
def test_a_plain_postgresql_url_works_as_well_as_sqlalchemys(store_url, cli, tmp_path):
    plain = store_url.replace("postgresql+psycopg://", "postgresql://")
    assert cli("start", str(MINI), "--answers", answers_file(tmp_path), "--no-input", "--database", plain)[0] == 0
    code, out, _ = cli("history", "--json", "--database", store_url)
    assert code == 0 and [r["playbook"] for r in json.loads(out)] == ["mini"]


def test_the_password_in_a_url_is_never_shown():
    location = locate("postgresql://dana:s3cret-pw@db.example:5432/journal")
    assert "s3cret-pw" not in location.shown and location.shown == "postgresql://dana:***@db.example:5432/journal"
    assert location.kind == "postgresql" and location.url.startswith("postgresql+psycopg://dana:s3cret-pw@")


def test_an_unsupported_or_broken_url_is_one_line_and_exit_2(cli):
    code, out, err = cli("history", "--database", "mysql://dana:pw@db/journal")
    assert (code, out) == (2, "") and err.splitlines()[0] == "error: --database: 'mysql' databases are not supported"
    assert "pw" not in err


def test_journal_info_names_the_store_its_schema_and_counts_with_the_password_masked(postgres, store_url, cli):
    record(open_journal(store_url), "a", actions=[item("One")])
    if "://" in store_url:  # the same server, through a URL that carries a password (trust ignores it)
        store_url = store_url.replace("postgres@", "postgres:hunter2@")
    code, out, err = cli("journal", "info", "--database", store_url, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert "hunter2" not in out
    assert (info["schema"], info["current"], info["sessions"], info["authors"], info["action_items"]) == (
        HEAD, True, 1, 1, {"open": 1},
    )
    assert info["engine"].startswith("PostgreSQL " if "://" in store_url else "SQLite ")
    text = cli("journal", "info", "--database", store_url)[1]
    assert f"{HEAD} (current)" in text and "hunter2" not in text and ("***" in text or "://" not in store_url)


def test_journal_upgrade_creates_the_journal_in_an_empty_database_once(postgres_database, cli):
    code, _, err = cli("history", "--database", postgres_database)
    assert code == 1 and "holds no journal yet" in err and "mea-culpa journal upgrade" in err
    code, _, err = cli("journal", "upgrade", "--database", postgres_database)
    assert code == 0 and "Created the journal" in err and HEAD in err
    code, _, err = cli("journal", "upgrade", "--database", postgres_database)
    assert code == 0 and f"already at schema {HEAD}" in err
    assert cli("history", "--database", postgres_database)[0] == 0


def test_a_journal_copied_twice_copies_each_session_once(store_url, cli, tmp_path, isolated_home, monkeypatch):
    mine = tmp_path / "mine.sqlite3"
    with open_journal(mine) as personal:
        record(personal, "2026-03-02-checkout-down", actions=[item("Add a canary"), item("Alert on errors")])
        record(personal, "2026-03-05-wrong-invoice", start=START.replace(day=5))
        personal.set_action_status(personal.actions(session="2026-03-02-checkout-down")[0].id, "done")
    with open_journal(store_url) as team:  # a colleague's session with the same readable id
        record(team, "2026-03-02-checkout-down", title="Someone else's outage")
    target = store_url if "://" in store_url else str(tmp_path / "team.sqlite3")
    if target != store_url:
        with open_journal(target) as team:
            record(team, "2026-03-02-checkout-down", title="Someone else's outage")
    code, _, err = cli("journal", "copy", "--from", str(mine), "--to", target)
    assert code == 0, err
    err = " ".join(err.split())
    assert "copied 2026-03-02-checkout-down as 2026-03-02-checkout-down-2" in err
    assert "copied 2026-03-05-wrong-invoice" in err and "Copied 2 sessions" in err
    code, _, err = cli("journal", "copy", "--from", str(mine), "--to", target)
    err = " ".join(err.split())  # rich wraps long lines
    assert code == 0 and "Copied 0 sessions" in err and "2 were there already" in err
    with open_journal(target) as team:
        assert sorted(r.id for r in team.history()) == [
            "2026-03-02-checkout-down", "2026-03-02-checkout-down-2", "2026-03-05-wrong-invoice",
        ]
        copied = team.load("2026-03-02-checkout-down-2")
        assert copied.title == "Checkout down" and copied.author == "Test Person"
        statuses = {a.what: a.status for a in team.actions(session="2026-03-02-checkout-down-2", include_closed=True)}
        assert statuses == {"Add a canary": "done", "Alert on errors": "open"}


# --- who ------------------------------------------------------------------------------------


def test_the_author_is_mea_culpa_user_else_git_else_the_login(monkeypatch, tmp_path):
    monkeypatch.setenv("MEA_CULPA_USER", "Dana Reyes")
    assert who.current_user() == "Dana Reyes"
    monkeypatch.delenv("MEA_CULPA_USER")
    config = tmp_path / "gitconfig"
    config.write_text("[user]\n\tname = Sam Okafor\n", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.chdir(tmp_path)
    assert who.current_user() == "Sam Okafor"
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "none"))
    import getpass

    assert who.current_user() == getpass.getuser()


def test_every_session_records_its_author_in_history_and_exports(store_url, cli, tmp_path, monkeypatch):
    for person in ("Dana", "Sam"):
        monkeypatch.setenv("MEA_CULPA_USER", person)
        code, out, err = cli("start", str(MINI), "--answers", answers_file(tmp_path), "--no-input", "--title", f"{person}'s mistake")
        assert code == 0, err
    rows = json.loads(cli("history", "--json")[1])
    assert {r["title"]: r["author"] for r in rows} == {"Dana's mistake": "Dana", "Sam's mistake": "Sam"}
    dana = next(r["id"] for r in rows if r["author"] == "Dana")
    assert json.loads(cli("export", dana, "-f", "json")[1])["author"] == "Dana"
    assert "- **Author:** Dana\n" in cli("export", dana, "-f", "md")[1]
    assert "Author" in cli("history")[1]  # several people: the table says who


def test_history_mine_and_author_pick_one_persons_sessions(store_url, cli, tmp_path, monkeypatch):
    for person in ("Dana", "Sam", "Dana"):
        monkeypatch.setenv("MEA_CULPA_USER", person)
        assert cli("start", str(MINI), "--answers", answers_file(tmp_path), "--no-input")[0] == 0
    monkeypatch.setenv("MEA_CULPA_USER", "Sam")
    assert [r["author"] for r in json.loads(cli("history", "--json", "--mine")[1])] == ["Sam"]
    assert [r["author"] for r in json.loads(cli("history", "--json", "--author", "dana")[1])] == ["Dana", "Dana"]
    assert cli("history", "--mine", "--author", "Dana")[0] == 2


def test_actions_have_owners_and_unowned_items_are_the_authors(store_url, cli, monkeypatch):
    monkeypatch.setenv("MEA_CULPA_USER", "Dana")
    with open_journal(store_url) as dana:
        record(dana, "a", actions=[item("Check the mapping", owner="Priya"), item("Sample first", owner=None)])
    items = json.loads(cli("actions", "--json")[1])
    assert {a["what"]: a["owner"] for a in items} == {"Check the mapping": "Priya", "Sample first": "Dana"}
    assert [a["what"] for a in json.loads(cli("actions", "--json", "--owner", "PRIYA")[1])] == ["Check the mapping"]
    assert [a["what"] for a in json.loads(cli("actions", "--json", "--mine")[1])] == ["Sample first"]
    monkeypatch.setenv("MEA_CULPA_USER", "Priya")
    assert [a["what"] for a in json.loads(cli("actions", "--json", "--mine")[1])] == ["Check the mapping"]


def test_stats_cover_the_team_by_default_and_one_person_on_request(store_url, cli, tmp_path, monkeypatch):
    for person in ("Dana", "Sam", "Sam"):
        monkeypatch.setenv("MEA_CULPA_USER", person)
        assert cli("start", str(MINI), "--answers", answers_file(tmp_path), "--no-input")[0] == 0
    team = json.loads(cli("stats", "--json")[1])
    assert (team["sessions"], team["by_author"], team["author"]) == (3, {"Sam": 2, "Dana": 1}, None)
    assert team["recurring_factors"][0]["sessions"] == 3
    sam = json.loads(cli("stats", "--json", "--author", "sam")[1])
    assert (sam["sessions"], sam["by_author"], sam["recurring_factors"][0]["sessions"]) == (2, {"Sam": 2}, 2)
    assert "By author" in cli("stats")[1]


# --- two people, one session -----------------------------------------------------------------


def test_a_second_resume_of_a_held_session_is_one_line_naming_who_and_since_when(store_url, cli, monkeypatch):
    monkeypatch.setenv("MEA_CULPA_USER", "Dana")
    dana = open_journal(store_url)
    record(dana, "2026-03-02-checkout-down", status="in-progress", fix=None)
    dana.hold("2026-03-02-checkout-down")
    monkeypatch.setenv("MEA_CULPA_USER", "Sam")
    code, out, err = cli("resume", "2026-03-02-checkout-down", "--no-input")
    assert (code, out) == (1, "")
    (line,) = err.splitlines()
    assert line.startswith("error: 2026-03-02-checkout-down is open in another mea-culpa: Dana on ")
    assert " since " in line and line.endswith("to take it over: mea-culpa resume 2026-03-02-checkout-down --take-over")
    dana.close()


def test_taking_over_stops_the_first_writer_and_keeps_what_they_typed(store_url, monkeypatch):
    book = load(MINI)
    monkeypatch.setenv("MEA_CULPA_USER", "Dana")
    dana = open_journal(store_url)
    session, change = sm.new_session(book, session_id="2026-03-02-x", title="x", now="2026-03-02T09:00:00Z")
    session = dana.save_as_new(session, "2026-03-02", "x", hold=True)
    monkeypatch.setenv("MEA_CULPA_USER", "Sam")
    sam = open_journal(store_url)
    with pytest.raises(SessionHeld):
        sam.hold(session.id)
    sam.hold(session.id, take_over=True)
    step = book.step("what_happened")
    assert step is not None
    typed, change = sm.set_answer(session, step, "Dana's words", now="2026-03-02T09:05:00Z")
    with pytest.raises(SessionHeld, match=r"Sam on .* took 2026-03-02-x over at .*kept in .*--take-over"):
        dana.apply(typed, change)
    assert "what_happened" not in sam.load(session.id).steps  # nothing overwritten behind Sam's back
    kept = spool.find(dana.location.shown, session.id)
    assert kept is not None and kept.session.steps["what_happened"].value == "Dana's words"
    dana.close()
    sam.close()


def test_a_lease_left_by_a_process_that_ended_on_this_machine_is_taken_without_asking(store_url, monkeypatch):
    with open_journal(store_url) as j:
        record(j, "s", status="in-progress", fix=None)
        j.hold("s")
        ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        with j.engine.begin() as conn:
            from sqlalchemy import text

            conn.execute(text("UPDATE sessions SET lease_pid = :pid, lease_token = 'gone' WHERE id = 's'"), {"pid": int(ended.stdout)})
    monkeypatch.setenv("MEA_CULPA_USER", "Sam")
    with open_journal(store_url) as other:
        other.hold("s")  # no SessionHeld: the holder has ended


# --- many writers, and a server that goes away --------------------------------------------------


@POSTGRES_ONLY
def test_eight_runs_completing_at_once_on_one_server_all_keep_every_answer(store_url, tmp_path):
    answers = answers_file(tmp_path)
    procs = []
    for n in range(8):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEA_CULPA_")}
        env.update(MEA_CULPA_HOME=str(tmp_path / f"home{n}"), MEA_CULPA_CONFIG=str(tmp_path / "config"), NO_COLOR="1",
                   MEA_CULPA_DATABASE_URL=store_url, MEA_CULPA_USER=f"Person {n}")
        title = "same title" if n % 2 else f"run {n}"  # four race for one readable id
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "mea_culpa", "start", str(MINI), "--answers", answers, "--no-input", "--title", title],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    for code, _, err in results:
        assert code == 0 and "Traceback" not in err and "error" not in err, err
    ids = [out.strip().splitlines()[-1] for _, out, _ in results]
    assert len(set(ids)) == 8
    with open_journal(store_url) as j:
        rows = j.history(limit=100)
        assert {r.id for r in rows} == set(ids)
        assert sorted(r.author or "" for r in rows) == [f"Person {n}" for n in range(8)]
        for sid in ids:
            stored = j.load(sid)
            assert stored.status == "completed"
            assert stored.steps["what_happened"].value == ANSWERS["what_happened"]
            assert stored.steps["lesson"].value == ANSWERS["lesson"]
        assert j.stats().patterns[0].sessions == 8  # the shared factor counted once per session, by eight writers


def test_a_server_that_cannot_be_reached_at_start_is_one_line_and_exit_1(cli, tmp_path):
    nowhere = f"postgresql://mc@/journal?host={tmp_path}&port=5999"  # no server listens on this socket
    code, out, err = cli("start", str(MINI), "--answers", answers_file(tmp_path), "--no-input", "--database", nowhere)
    assert (code, out) == (1, "")
    assert err.splitlines()[0].startswith(f"error: cannot reach the journal at {nowhere}: ")
    assert "Traceback" not in err and len(err.splitlines()) == 2


class StopsTheServer(ScriptedAsker):
    """Answers from a script, and stops the database server just before one question."""

    def __init__(self, answers: dict[str, Any], before: str, server: Any) -> None:
        super().__init__(answers)
        self.before, self.server = before, server

    def ask(self, step: Any, default: Any, check: Any, current: Any = None, **more: Any) -> Any:
        if step.id == self.before and self.server.is_running():
            self.server.stop()
        return super().ask(step, default, check, current, **more)


@POSTGRES_ONLY
def test_a_server_gone_mid_run_keeps_the_answers_locally_and_resume_puts_them_back(store_url, postgres, cli, tmp_path):
    book = load(MINI)
    journal = open_journal(store_url)
    session, _ = sm.new_session(book, session_id="x", title="Invoices", now=sm.utc_now())
    session = journal.save_as_new(session, "2026-03-02", "invoices", hold=True)
    typed = dict(ANSWERS, contributing_factors="UNIQUE-FACTOR typed while the server was down")
    runner = Runner(book, session, journal, StopsTheServer(typed, "contributing_factors", postgres))
    try:
        with pytest.raises(ServerGone) as stopped:
            runner.run()
    finally:
        postgres.start()
    message = stopped.value.message
    assert message.startswith("cannot reach the journal at ") and f"mea-culpa resume {session.id} once it is back" in message
    kept = spool.find(journal.location.shown, session.id)
    assert kept is not None and str(kept.path) in message
    assert kept.session.steps["contributing_factors"].value == typed["contributing_factors"]
    assert json.loads(kept.path.read_text(encoding="utf-8"))["format"] == 1  # plain JSON
    journal.close()

    rest = {k: v for k, v in ANSWERS.items() if k not in ("severity", "what_happened", "affected_count", "contributing_factors")}
    # The stopped run is this test process, still alive: its lease is taken over here. (A run that
    # ended is taken over without asking: test_a_lease_left_by_a_process_that_ended...)
    code, out, err = cli("resume", session.id, "--no-input", "--take-over", "--answers", answers_file(tmp_path, rest))
    assert code == 0, err
    assert f"Put back the answers kept in {kept.path}" in err
    assert not kept.path.exists()
    with open_journal(store_url) as back:
        stored = back.load(session.id)
    assert stored.status == "completed"
    assert stored.steps["contributing_factors"].value == typed["contributing_factors"]
    assert stored.steps["what_happened"].value == ANSWERS["what_happened"]


def test_the_spool_round_trips_a_whole_session(journal):
    r = record(journal, "a", factors="No review", actions=[item("One")], lesson="Slow down.")
    r.draft("customer-apology", text="Sorry")
    session = journal.load("a")
    assert spool.session_from_data(json.loads(json.dumps(spool.session_data(session)))) == session


def test_merging_a_kept_session_keeps_the_later_answer_of_each_step(journal):
    book = load(MINI)
    first, _ = sm.new_session(book, session_id="m", title="m", now="2026-03-02T09:00:00Z")
    severity, what = book.step("severity"), book.step("what_happened")
    assert severity is not None and what is not None
    kept, _ = sm.set_answer(first, severity, "minor", now="2026-03-02T09:01:00Z")
    kept, _ = sm.set_answer(kept, what, "typed offline", now="2026-03-02T09:02:00Z")
    stored, _ = sm.set_answer(first, severity, "critical", now="2026-03-02T09:03:00Z")  # someone answered later
    merged = spool.merge(stored, kept)
    assert (merged.steps["severity"].value, merged.steps["what_happened"].value) == ("critical", "typed offline")


def test_storage_errors_are_one_line_family_members():
    assert issubclass(ServerGone, StorageError) and issubclass(SessionHeld, StorageError)
