"""Other people's text made safe to show on a terminal.

Titles, answers and names in a shared journal were typed by colleagues, or by anyone who
could write to the database. Written to a terminal as they are, escape sequences in them
would act: recolour or clear the screen, move the cursor over what is shown (ESC [ …),
set the window title or write to the clipboard (OSC 52), or smuggle in any other control.
`clean` removes every such sequence and control character, and the Unicode controls that
reorder how text is displayed, and keeps everything printable (accents, emoji, other
scripts) as it was.

Pure: no terminal, no rich. Data written to a pipe or a file (JSON, exports) keeps its text
unchanged; this is for what is shown to a person.
"""

from __future__ import annotations

import re

# ESC-introduced sequences (ECMA-48), and their single-byte C1 forms:
_SEQUENCES = re.compile(
    r"""
      (?:\x1b\[|\x9b) [0-?]* [ -/]* [@-~]?          # CSI: colours, cursor moves, erasing (ESC[31m, ESC[2J)
    | (?:\x1b\]|\x9d) .*? (?:\x07|\x1b\\|\x9c|$)    # OSC: window titles, hyperlinks, clipboard (OSC 52), to BEL or ST
    | (?:\x1b[PX^_]|[\x90\x98\x9e\x9f]) .*? (?:\x1b\\|\x9c|$)  # DCS, SOS, PM, APC strings, to ST
    | \x1b [ -/]* [0-~]?                            # any other escape (ESC c resets the terminal)
    """,
    re.VERBOSE | re.DOTALL,
)
# What is left of the C0 and C1 controls (tab and newline are text), DEL, and the Unicode
# controls that change the order or direction text is drawn in (bidirectional overrides and
# isolates: the "Trojan Source" trick).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_AND_LINES = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str, *, one_line: bool = False) -> str:
    """`text` without escape sequences and control characters. Tabs and line breaks stay,
    unless `one_line`, where each becomes a space (a title, a name, a table cell)."""
    if not text:
        return text
    stripped = _SEQUENCES.sub("", text)
    if one_line:
        return _CONTROLS_AND_LINES.sub(lambda m: " " if m.group() in "\t\n\r" else "", stripped)
    return _CONTROLS.sub("", stripped)
