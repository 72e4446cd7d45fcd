"""The edge where Loopform talks to a person: streams, colour, symbols.

Colour only on a TTY and never when NO_COLOR is set (https://no-color.org); FORCE_COLOR forces it
for tests of the coloured form. Unicode symbols fall back to ASCII when the stream cannot encode them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TextIO

_COLOURS = {
    "green": "32",
    "red": "31",
    "yellow": "33",
    "cyan": "36",
    "bold": "1",
    "dim": "2",
}


def _wants_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _can_encode(stream: TextIO, text: str) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


@dataclass
class Terminal:
    """Output streams plus the decisions about how to decorate text on them."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    colour: bool | None = None
    unicode: bool | None = None

    def __post_init__(self) -> None:
        if self.colour is None:
            self.colour = _wants_colour(self.out)
        if self.unicode is None:
            self.unicode = _can_encode(self.out, "⏸▶↺")

    @property
    def interactive(self) -> bool:
        isatty = getattr(sys.stdin, "isatty", None)
        return bool(isatty and isatty()) and bool(getattr(self.out, "isatty", lambda: False)())

    def style(self, text: str, *styles: str) -> str:
        if not self.colour or not styles:
            return text
        codes = ";".join(_COLOURS[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def eprint(self, text: str = "") -> None:
        self.err.write(text + "\n")
        self.err.flush()
