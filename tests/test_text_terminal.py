"""Other people's text reaches the terminal without escape sequences or controls (text/terminal.py)."""

from __future__ import annotations

import json

import pytest

from mea_culpa.text.terminal import clean
from test_journal import START, item, record

ESC = "\x1b"
HOSTILE = {
    "colour": (f"{ESC}[31mred{ESC}[0m alert", "red alert"),
    "clear screen and home": (f"{ESC}[2J{ESC}[HChecked", "Checked"),
    "osc 52 clipboard, BEL": (f"Invoice{ESC}]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07 sent", "Invoice sent"),
    "osc title, ST": (f"{ESC}]0;owned{ESC}\\Outage", "Outage"),
    "osc 8 hyperlink": (f"{ESC}]8;;https://evil.example{ESC}\\click{ESC}]8;;{ESC}\\", "click"),
    "unterminated osc": (f"Late{ESC}]52;c;AAAA", "Late"),
    "dcs string": (f"a{ESC}P1$r0m{ESC}\\b", "ab"),
    "reset": (f"x{ESC}cy", "xy"),
    "8-bit csi": ("x\x9b31my", "xy"),
    "8-bit osc": ("x\x9d52;c;AAAA\x9cy", "xy"),
    "c0 controls": ("bell\x07 back\x08space del\x7f nul\x00", "bell backspace del nul"),
    "carriage return overwrite": ("safe\rEVIL", "safeEVIL"),
    "bidi override": ("invoice \u202egnp.exe\u202c", "invoice gnp.exe"),
    "printable unicode stays": ("Zoë’s café 🙏🏽 שלום", "Zoë’s café 🙏🏽 שלום"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_clean_removes_sequences_and_controls_and_keeps_the_text(name):
    text, expected = HOSTILE[name]
    assert clean(text) == expected
    assert ESC not in clean(text) and not any(0x80 <= ord(c) <= 0x9F for c in clean(text))


def test_lines_and_tabs_stay_unless_one_line_is_asked_for():
    assert clean("one\n\ttwo") == "one\n\ttwo"
    assert clean("one\n\ttwo\r\nthree", one_line=True) == "one  two  three"


def _hostile_journal(store_url):
    from mea_culpa.journal import open_journal

    with open_journal(store_url) as journal:
        record(
            journal, "2026-03-02-hostile", title=f"{ESC}[31mCheckout{ESC}[0m down{ESC}]52;c;cm0gLXJmIH4=\x07",
            tags=(f"eu{ESC}[2J",), factors=f"No review\x07 step{ESC}",
            actions=[item(f"Add{ESC}[5m a canary", owner=f"Dana{ESC}[8m"), item("Alert", owner="Sam")],
        )
        record(journal, "2026-03-01-earlier", factors="no review step", start=START.replace(day=1))  # a pattern


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
        assert "Add a canary" in shown and "Dana" in shown
    else:
        assert "No review step" in shown


def test_json_output_keeps_the_text_as_data(store_url, cli):
    _hostile_journal(store_url)
    rows = json.loads(cli("history", "--json")[1])
    assert any(r["title"].startswith(f"{ESC}[31mCheckout") for r in rows)  # data, escaped by JSON itself
