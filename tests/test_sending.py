"""The sending adapters (messages/sending.py): masked URLs, mail links, posts to a webhook
served on 127.0.0.1, and the clipboard of a machine with and without one."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from mea_culpa.errors import UsageError
from mea_culpa.messages import sending
from mea_culpa.run.session import Session, StepRecord
from webhook_server import dead_url, serve

# --- masking --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx", "https://hooks.slack.com/services/T…/B…/***"),
        ("https://hooks.slack.com/services/T1/B2/xyz", "https://hooks.slack.com/services/T…/B…/***"),
        ("https://ops:hunter2@status.example.com/api/v1/pages/p4ge1d/incidents?api_key=k3y&x=1",
         "https://ops:***@status.example.com/api/v1/pages/p…/***?api_key=***&x=***"),
        ("https://discord.com/api/webhooks/123456789/AbCdEf-ghIJ_kl", "https://discord.com/api/webhooks/1…/***"),
        ("https://chat.example.com/hooks/xxxgeneratedkeyxxxlonger", "https://chat.example.com/hooks/***"),
        ("http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook"),
        ("not a url", "***"),
    ],
)
def test_a_url_is_shown_with_its_secret_parts_masked(url, shown):
    assert sending.mask_url(url) == shown


def test_every_part_of_a_slack_path_after_services_is_secret_wherever_it_is_served():
    target = sending.Target("slack", "http://127.0.0.1:9/services/T1/B2/abc")
    assert target.shown == "http://127.0.0.1:9/services/T…/B…/***"


# --- targets ------------------------------------------------------------------------------------


def test_slack_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(sending.SLACK_ENV, "https://hooks.slack.com/services/T1/B2/c3")
    target = sending.parse_target("slack")
    assert (target.kind, target.url, target.source) == ("slack", "https://hooks.slack.com/services/T1/B2/c3", sending.SLACK_ENV)


def test_without_a_webhook_anywhere_slack_is_refused_with_where_to_set_one(monkeypatch):
    monkeypatch.delenv(sending.SLACK_ENV, raising=False)
    with pytest.raises(UsageError, match="no Slack webhook is set") as caught:
        sending.parse_target("slack")
    assert "mea-culpa config set slack-webhook" in str(caught.value.hint)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("webhook:ftp://example.com/x", "not an http"),
        ("webhook:https://", "not an http"),
        ("webhook:http://status.example.com/hooks/abc", "unencrypted"),
        ("webhook:https://example.com:notaport/x", "not a URL"),
        ("teams", "post to `slack` or to `webhook:URL`"),
    ],
)
def test_a_target_that_cannot_work_is_one_line(spec, message):
    with pytest.raises(UsageError, match=message) as caught:
        sending.parse_target(spec)
    assert "\n" not in caught.value.message


def test_plain_http_is_allowed_to_this_machine_only():
    assert sending.parse_target("webhook:http://localhost:9000/hook").url == "http://localhost:9000/hook"
    assert sending.parse_target("webhook:http://[::1]:9000/hook").kind == "webhook"


# --- what is posted ------------------------------------------------------------------------------


def test_slack_gets_the_text_with_its_control_characters_escaped():
    body = sending.payload(sending.Target("slack", "https://hooks.slack.com/services/a/b/c"), "Fish & chips <!channel>\n",
                           session_id="s", message_id="status-update", phase="identified")
    assert body == {"text": "Fish &amp; chips &lt;!channel&gt;"}


def test_another_webhook_gets_the_text_with_the_session_message_and_phase():
    body = sending.payload(sending.Target("webhook", "https://status.example.com/h"), "We found it.\n",
                           session_id="2026-03-02-down", message_id="status-update", phase="identified")
    assert body == {"text": "We found it.", "session": "2026-03-02-down", "message": "status-update", "phase": "identified"}


def test_a_post_reaches_the_webhook_once_as_json():
    with serve() as hook:
        sending.post(sending.Target("slack", hook.url()), {"text": "We are looking into it."})
    assert len(hook.requests) == 1
    assert hook.requests[0]["path"] == "/services/T0TEST0001/B0TEST0002/s3cr3tT0kenVa1ue"
    assert hook.requests[0]["headers"]["Content-Type"].startswith("application/json")
    assert hook.payloads == [{"text": "We are looking into it."}]


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (404, b"no_service", "the webhook is no longer valid"),
        (403, b"invalid_token", "config set slack-webhook"),
        (500, b"rollup_error", "try again later"),
        (429, b"rate_limited", "too many posts"),
        (400, b"invalid_payload", "nothing was posted"),
    ],
)
def test_a_refusal_is_one_line_with_the_status_and_what_to_do(status, body, said):
    with serve(status=status, body=body) as hook, pytest.raises(sending.SendError) as caught:
        sending.post(sending.Target("slack", hook.url()), {"text": "x"})
    line = caught.value.message
    assert f"HTTP {status}" in line and said in line and "\n" not in line
    assert "s3cr3tT0kenVa1ue" not in line and "***" in line
    assert len(hook.requests) == 1  # nothing sent twice


def test_slack_answering_200_without_ok_is_no_success():
    with serve(body=b"something else") as hook, pytest.raises(sending.SendError, match="Slack did not take the post"):
        sending.post(sending.Target("slack", hook.url()), {"text": "x"})


def test_a_dead_address_is_connection_refused_and_names_no_secret():
    url = dead_url()
    with pytest.raises(sending.SendError) as caught:
        sending.post(sending.Target("slack", url), {"text": "x"})
    assert "connection refused" in caught.value.message and "nothing was posted" in caught.value.message
    assert "deadT0kenVa1ue" not in caught.value.message


def test_a_server_that_does_not_answer_is_reported_after_the_timeout_as_maybe_arrived():
    with serve(delay=3) as hook, pytest.raises(sending.SendError) as caught:
        sending.post(sending.Target("webhook", hook.url("/hook")), {"text": "x"}, timeout=1)
    assert "did not answer within 1 s" in caught.value.message and "may have arrived" in caught.value.message
    assert len(hook.requests) == 1  # not posted again


def test_a_name_that_does_not_resolve_says_so():
    with pytest.raises(sending.SendError, match="cannot reach .*(does not resolve|timed out|refused)"):
        sending.post(sending.Target("webhook", "https://mea-culpa-test.invalid/hook"), {"text": "x"}, timeout=2)


# --- mail -------------------------------------------------------------------------------------------


def test_a_mail_link_carries_the_recipient_subject_and_body_with_crlf_lines():
    mail = sending.mail("Subject: Your order went to the wrong address\n\nDear Ana,\n\nSorry & thank you.\n", "ana@example.com")
    parts = urlsplit(mail.link)
    assert parts.scheme == "mailto" and unquote(parts.path) == "ana@example.com"
    query = parse_qs(parts.query)
    assert query["subject"] == ["Your order went to the wrong address"]
    assert query["body"] == ["Dear Ana,\r\n\r\nSorry & thank you.\r\n"]
    assert "+" not in mail.link and mail.whole and mail.length == len(mail.link)


def test_a_draft_too_long_for_a_link_leaves_the_body_out():
    body = "We are sorry. " * 200
    mail = sending.mail(f"Subject: Sorry\n\n{body}\n")
    assert not mail.whole and mail.length > sending.MAILTO_LIMIT
    assert mail.link == "mailto:?subject=Sorry" and mail.body.startswith("We are sorry.")


def _session(**steps: object) -> Session:
    return Session(
        id="s", title="t", playbook_id="p", playbook_title="P", playbook_version="1", playbook_hash="", playbook_path="",
        status="in-progress", created_at="2026-03-02T09:00:00Z", updated_at="2026-03-02T09:00:00Z",
        steps={k: StepRecord("answered", v) for k, v in steps.items()},
    )


def test_the_recipient_is_the_recipient_email_answer_when_it_is_one_address():
    assert sending.recipient(_session(recipient_email=" ana@example.com ")) == "ana@example.com"
    assert sending.recipient(_session(recipient_email="ana@example.com, bo@example.com")) is None
    assert sending.recipient(_session(recipient_email="Ana Ortiz")) is None
    assert sending.recipient(_session()) is None


def test_without_a_display_or_browser_setting_no_link_is_opened(monkeypatch):
    if not sys.platform.startswith("linux"):
        pytest.skip("the display rule is for Linux and the BSDs")
    for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    assert sending.can_open_links() is False
    assert sending.open_link("mailto:?subject=x") is False


# --- the clipboard -----------------------------------------------------------------------------------


def _copy_in_child(env: dict[str, str], text: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(f"""
        from mea_culpa.messages import sending
        try:
            sending.copy({text!r})
        except sending.NoClipboard as exc:
            print("NO:", exc.message, "|", exc.hint)
        else:
            print("COPIED")
    """)
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a headless machine is a Linux one here")
def test_a_machine_without_a_clipboard_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PATH"] = str(tmp_path)  # no xclip, xsel or wl-copy on it
    done = _copy_in_child(env, "hello")
    assert done.stdout.strip() == "NO: there is no clipboard on this machine to copy to | install xclip, xsel or wl-clipboard"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xclip is the X11 clipboard")
def test_with_xclip_and_a_display_the_text_reaches_the_clipboard(tmp_path):
    received = fake_xclip(tmp_path)
    env = {**os.environ, "DISPLAY": ":0", "PATH": str(tmp_path)}
    env.pop("WAYLAND_DISPLAY", None)
    done = _copy_in_child(env, "Sorry — we sent it twice.\n")
    assert done.stdout.strip() == "COPIED", done.stderr
    assert received.read_text(encoding="utf-8") == "Sorry — we sent it twice.\n"


def fake_xclip(folder: Path) -> Path:
    """An `xclip` that keeps what it is given in a file (the clipboard, as far as a test sees)."""
    received = folder / "clipboard.txt"
    script = folder / "xclip"
    script.write_text(f"#!{sys.executable}\nimport sys\nopen({str(received)!r}, 'wb').write(sys.stdin.buffer.read())\n",
                      encoding="utf-8")
    script.chmod(0o755)
    return received
