"""What may reach a terminal: text from other people with every control and escape
sequence taken out.

A terminal acts on what it is sent: `ESC ] 52 ; …` writes the clipboard, `ESC ] 0 ; …`
the window title, `ESC [ 2 J` clears the screen, and some terminals read the 8-bit C1
controls (`\\x9b` is CSI) the same way. Playbooks, templates and answers come from other
people, so everything mea-culpa prints or exports as text goes through
`safe_for_terminal` first. Newlines and tabs stay; everything else a terminal would act
on goes, and so do the Unicode controls that reorder how text is drawn (bidirectional
overrides and isolates: the "Trojan Source" trick). JSON keeps every character and escapes
them instead (`json_for_terminal`). Pure: the standard library only.
"""

from __future__ import annotations

import re

__all__ = ["json_for_terminal", "safe_for_terminal"]

# Whole sequences first, so that their parameters go with them (not only the ESC that a
# plain control-character filter would remove, leaving "]52;c;…" on the screen):
#   CSI: ESC [ or 8-bit CSI, parameters, intermediates, one final byte;
#   OSC, DCS, SOS, PM, APC: an introducer (7- or 8-bit), a payload, a terminator (BEL, ESC \,
#     8-bit ST). The payload stops at any control that could start or end a sequence, so a
#     missing terminator costs one scan to the next control, never a scan per character;
#   any other escape: ESC, intermediates, one final byte (ESC c resets the terminal, ESC ( B…).
# What is left of a sequence that does not complete is plain text once its controls go.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x80-\x9f]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]"
)
# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional controls.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\t\n\r]")


def safe_for_terminal(text: str, *, one_line: bool = False) -> str:
    """`text` without ANSI/VT escape sequences (CSI, OSC, DCS, SOS, PM, APC, the 7-bit
    and 8-bit forms, single-character escapes) and without control characters other than
    newline and tab. Everything else, emoji, right-to-left text and all, is kept. With
    `one_line` (a title, a name, a table cell), tabs and line breaks become spaces too."""
    if text.isprintable():  # the common case, in C: nothing to take out
        return text
    if one_line:
        text = _LINE_BREAKS.sub(" ", text)
    return _CONTROL.sub("", _SEQUENCE.sub("", text))


_JSON_RAW_CONTROL = re.compile(r"[\x7f-\x9f]")


def json_for_terminal(json_text: str) -> str:
    """JSON text from `json.dumps(..., ensure_ascii=False)` with DEL and the C1 controls
    written as `\\u` escapes, as json.dumps already writes the C0 ones: the same data for
    any JSON reader, and nothing a terminal would act on. (Outside strings JSON is ASCII,
    so every such character is inside a string, where the escape means the same.)"""
    return _JSON_RAW_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)
