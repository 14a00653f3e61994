"""`draft --post / --copy / --email` and `config`, run as a person runs them: the real
command in a child process, with a Slack-style webhook served on 127.0.0.1 by the test,
and the session read back from the journal (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from mea_culpa.journal import open_journal
from test_sending import fake_xclip
from webhook_server import dead_url, serve

ANSWERS = Path(__file__).parent / "data" / "answers"
TESTS = Path(__file__).parent


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`mea-culpa ARGS` in a child process, without a terminal, in the test's environment."""
    return subprocess.run([sys.executable, "-m", "mea_culpa", *args], env=env or dict(os.environ), input=stdin,
                          capture_output=True, text=True, timeout=120)


def headless(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No display, no clipboard programs, no browser: a server's environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER", "MEA_CULPA_SLACK_WEBHOOK")}
    bare = tmp_path / "bin"
    bare.mkdir(exist_ok=True)
    env["PATH"] = str(bare)
    env.update(extra)
    return env


@pytest.fixture
def outage(store_url: str) -> str:
    """A completed service-outage session in the journal under test; its id."""
    done = run("start", "service-outage", "--answers", str(ANSWERS / "service-outage.yaml"), "--no-input",
               "--title", "checkout down", "--database", store_url)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def load(store_url: str, session_id: str):  # noqa: ANN201 - a Session
    with open_journal(store_url, create=False) as journal:
        return journal.load(session_id)


# --- posting to Slack -------------------------------------------------------------------------


def test_post_slack_delivers_the_draft_once_and_the_session_records_it(outage, store_url, tmp_path):
    with serve() as hook:
        env = headless(tmp_path, MEA_CULPA_SLACK_WEBHOOK=hook.url())
        done = run("draft", outage, "--message", "status-update", "--phase", "investigating", "--post", "slack", "--yes",
                   "--database", store_url, env=env)
    assert done.returncode == 0, done.stderr
    assert len(hook.requests) == 1
    assert hook.payloads[0] == {"text": done.stdout.rstrip("\n")}  # the draft as printed, nothing else
    assert "posted the status-update (investigating) to Slack" in done.stderr
    assert "s3cr3tT0kenVa1ue" not in done.stderr
    session = load(store_url, outage)
    (sent,) = session.sent
    assert (sent.message_id, sent.phase, sent.how, sent.posted) == ("status-update", "investigating", "slack", True)
    assert sent.where == hook.base + "/services/T…/B…/***"
    assert sent.text == done.stdout and sent.draft_created_at == session.drafts[-1].created_at
    assert any(e.kind == "draft-sent" and e.detail == f"status-update {sent.draft_created_at}" for e in session.events)


def test_post_slack_to_a_dead_url_exits_1_with_one_line_and_keeps_the_draft(outage, store_url, tmp_path):
    env = headless(tmp_path, MEA_CULPA_SLACK_WEBHOOK=dead_url())
    done = run("draft", outage, "--message", "status-update", "--phase", "identified", "--post", "slack", "--yes",
               "--database", store_url, env=env)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot reach Slack" in errors[0] and f"the draft is kept in session {outage}" in errors[0]
    assert "Traceback" not in done.stderr and "deadT0kenVa1ue" not in done.stderr
    session = load(store_url, outage)
    assert session.sent == ()
    assert [d.phase for d in session.drafts if d.message_id == "status-update"] == ["identified"]
    assert session.drafts[-1].text == done.stdout


def test_a_refused_post_is_not_recorded_as_sent(outage, store_url, tmp_path):
    with serve(status=404, body=b"no_service") as hook:
        done = run("draft", outage, "--message", "status-update", "--phase", "monitoring", "--post", "slack", "--yes",
                   "--database", store_url, env=headless(tmp_path, MEA_CULPA_SLACK_WEBHOOK=hook.url()))
    assert done.returncode == 1 and "HTTP 404" in done.stderr and "no longer valid" in done.stderr
    assert load(store_url, outage).sent == ()


def test_post_without_a_terminal_or_yes_refuses_before_drafting(outage, store_url, tmp_path):
    with serve() as hook:
        done = run("draft", outage, "--message", "status-update", "--phase", "investigating", "--post", "slack",
                   "--database", store_url, env=headless(tmp_path, MEA_CULPA_SLACK_WEBHOOK=hook.url()))
    assert done.returncode == 2 and "add --yes" in done.stderr and done.stderr.count("\n") == 1
    assert hook.requests == [] and load(store_url, outage).drafts == ()


def test_a_letter_to_one_customer_is_not_posted_to_a_channel(outage, store_url, tmp_path):
    with serve() as hook:
        done = run("draft", outage, "--message", "customer-apology", "--post", "slack", "--yes",
                   "--database", store_url, env=headless(tmp_path, MEA_CULPA_SLACK_WEBHOOK=hook.url()))
    assert done.returncode == 2 and "--email or --copy" in done.stderr
    assert hook.requests == []


def test_post_webhook_sends_the_text_with_the_session_message_and_phase(outage, store_url, tmp_path):
    with serve() as hook:
        done = run("draft", outage, "--message", "status-update", "--phase", "identified", "--post",
                   f"webhook:{hook.url('/status/p4ge1d/incidents')}", "--yes", "--database", store_url, env=headless(tmp_path))
    assert done.returncode == 0, done.stderr
    assert hook.payloads == [{"text": done.stdout.rstrip("\n"), "session": outage, "message": "status-update", "phase": "identified"}]
    (sent,) = load(store_url, outage).sent
    assert (sent.how, sent.where) == ("webhook", hook.base + "/status/p…/***")


# --- the clipboard and the mail program ------------------------------------------------------


def test_copy_on_a_machine_without_a_clipboard_prints_one_line_and_the_draft(outage, store_url, tmp_path):
    done = run("draft", outage, "--message", "internal-note", "--copy", "--database", store_url, env=headless(tmp_path))
    assert done.returncode == 0
    assert done.stdout.startswith(load(store_url, outage).drafts[-1].text[:40])
    notes = [line for line in done.stderr.splitlines() if "clipboard" in line]
    assert notes == ["there is no clipboard on this machine to copy to (install xclip, xsel or wl-clipboard); "
                     "the draft is on standard output"]
    assert load(store_url, outage).sent == ()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xclip is the X11 clipboard")
def test_copy_with_a_clipboard_puts_the_draft_there_and_records_it(outage, store_url, tmp_path):
    env = headless(tmp_path, DISPLAY=":0")
    received = fake_xclip(Path(env["PATH"]))
    done = run("draft", outage, "--message", "internal-note", "--copy", "--database", store_url, env=env)
    assert done.returncode == 0 and "copied to the clipboard" in done.stderr
    assert received.read_text(encoding="utf-8") == done.stdout
    (sent,) = load(store_url, outage).sent
    assert (sent.how, sent.where, sent.posted) == ("clipboard", "clipboard", False)


def _browser(folder: Path) -> tuple[str, Path]:
    """A BROWSER command that keeps the link it is given, as a mail program would get it."""
    seen = folder / "opened.txt"
    script = folder / "browser.py"
    script.write_text(f"import sys\nopen({str(seen)!r}, 'a', encoding='utf-8').write(sys.argv[1] + '\\n')\n", encoding="utf-8")
    return f"{sys.executable} {script} %s", seen


def test_email_opens_the_mail_program_with_the_subject_and_body(outage, store_url, tmp_path):
    command, seen = _browser(tmp_path)
    done = run("draft", outage, "--message", "customer-apology", "--email", "--database", store_url,
               env=headless(tmp_path, BROWSER=command))
    assert done.returncode == 0, done.stderr
    (link,) = seen.read_text(encoding="utf-8").splitlines()
    query = parse_qs(urlsplit(link).query)
    subject, _, body = done.stdout.partition("\n\n")
    assert query["subject"] == [subject.removeprefix("Subject: ")]
    assert query["body"][0].replace("\r\n", "\n") == body
    assert "opened a message in your mail program, subject" in done.stderr
    (sent,) = load(store_url, outage).sent
    assert (sent.how, sent.where) == ("email", "mail program")


def test_email_where_nothing_can_open_it_prints_the_link(outage, store_url, tmp_path):
    done = run("draft", outage, "--message", "customer-apology", "--email", "--database", store_url, env=headless(tmp_path))
    assert done.returncode == 0
    (line,) = [line for line in done.stderr.splitlines() if "mailto:" in line]
    assert line.startswith("no mail program can be opened here; open this link to write the message: mailto:?subject=")
    assert load(store_url, outage).sent == ()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xclip is the X11 clipboard")
def test_a_draft_too_long_for_a_mail_link_goes_to_the_clipboard(outage, store_url, tmp_path):
    command, seen = _browser(tmp_path)
    env = headless(tmp_path, BROWSER=command, DISPLAY=":0")
    received = fake_xclip(Path(env["PATH"]))
    done = run("draft", outage, "--message", "internal-note", "--email", "--database", store_url, env=env)
    assert done.returncode == 0, done.stderr
    assert "too long for a mail link" in done.stderr and "the body is on the clipboard instead" in done.stderr
    (link,) = seen.read_text(encoding="utf-8").splitlines()
    assert "body=" not in link and len(done.stdout) > 2000
    assert received.read_text(encoding="utf-8").strip() == done.stdout.strip()
    assert [s.how for s in load(store_url, outage).sent] == ["clipboard", "email"]


# --- config: the webhook in the keyring -------------------------------------------------------------


def keyring_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return headless(
        tmp_path, PYTHON_KEYRING_BACKEND="keyring_backend.FileKeyring", MEA_CULPA_TEST_KEYRING=str(tmp_path / "keyring.json"),
        PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]), **extra,
    )


def test_config_keeps_the_webhook_in_the_keyring_and_post_slack_uses_it(outage, store_url, tmp_path):
    env = keyring_env(tmp_path)
    with serve() as hook:
        stored = run("config", "set", "slack-webhook", stdin=hook.url() + "\n", env=env)
        assert stored.returncode == 0, stored.stderr
        assert "stored slack-webhook (http://127.0.0.1" in stored.stderr and "s3cr3tT0kenVa1ue" not in stored.stderr
        assert json.loads((tmp_path / "keyring.json").read_text()) == {"mea-culpa/slack-webhook": hook.url()}
        shown = run("config", "get", "slack-webhook", env=env)
        assert shown.stdout.strip() == hook.base + "/services/T…/B…/***" and "from the system keyring" in shown.stderr
        assert run("config", "get", "slack-webhook", "--reveal", env=env).stdout.strip() == hook.url()
        done = run("draft", outage, "--message", "status-update", "--phase", "investigating", "--post", "slack", "--yes",
                   "--database", store_url, env=env)
        assert done.returncode == 0, done.stderr
        assert len(hook.requests) == 1
    removed = run("config", "unset", "slack-webhook", env=env)
    assert removed.returncode == 0 and "removed slack-webhook" in removed.stderr
    gone = run("config", "get", "slack-webhook", env=env)
    assert gone.returncode == 1 and "slack-webhook is not set" in gone.stderr


def test_the_environment_wins_over_the_keyring(tmp_path):
    env = keyring_env(tmp_path, MEA_CULPA_SLACK_WEBHOOK="https://hooks.slack.com/services/T9/B9/fromenv")
    assert run("config", "set", "slack-webhook", stdin="https://hooks.slack.com/services/T1/B1/fromkeyring\n", env=env).returncode == 0
    shown = run("config", "get", "slack-webhook", "--reveal", env=env)
    assert shown.stdout.strip().endswith("/fromenv") and "MEA_CULPA_SLACK_WEBHOOK" in shown.stderr


def test_config_set_refuses_what_is_not_a_webhook_and_stores_nothing(tmp_path):
    env = keyring_env(tmp_path)
    done = run("config", "set", "slack-webhook", stdin="http://hooks.slack.com/services/T1/B1/x\n", env=env)
    assert done.returncode == 2 and "unencrypted" in done.stderr
    assert not (tmp_path / "keyring.json").exists()
    assert run("config", "set", "colour", stdin="red\n", env=env).returncode == 2


def test_without_a_system_keyring_config_set_is_one_line(tmp_path):
    env = headless(tmp_path, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    done = run("config", "set", "slack-webhook", stdin="https://hooks.slack.com/services/T1/B1/x\n", env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[0].startswith("error: the system keyring cannot be used here")
