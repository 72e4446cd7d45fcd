"""The edge where Loopform talks to a person: streams, colour, symbols.

Colour only on a TTY and never when NO_COLOR is set (https://no-color.org); FORCE_COLOR forces it
for tests of the coloured form. Unicode symbols fall back to ASCII when the stream cannot encode them.

Everything written to a Terminal's streams has its control characters escaped (`escape_controls`):
names, descriptions and error messages come from live pipelines that any project member may edit,
and an ESC or BEL in them must not retitle or clear the reader's terminal (or a CI log viewer).
This is the one place that happens, so no command or renderer has to remember it. Loopform's own
colours are the only escape sequences that pass: `style` writes them as a mark that only this
process knows, turned into the real sequence after escaping.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

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


# C0 controls but tab and newline, DEL, C1 controls (8-bit CSI is \x9b), Unicode line separators,
# bidirectional overrides (text that reads differently from what it is) and lone surrogates (no
# encoding can write them: printing one would crash). `\uXXXX` keeps JSON output valid JSON.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def escape_controls(text: str) -> str:
    """`text` with every character that could drive a terminal (or not be encodable) as `\\uXXXX`."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class SafeStream:
    """A text stream that escapes control characters in what is written to it (see the module
    docstring), turning only `mark` (the Terminal's colour mark) into a real escape sequence."""

    def __init__(self, inner: TextIO, mark: str) -> None:
        self._inner = inner
        self._mark = mark

    def write(self, text: str) -> int:
        self._inner.write(escape_controls(text).replace(self._mark, "\x1b["))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


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
        # Private-use characters around a random token: live text cannot forge it.
        self._mark = f"\ue000{secrets.token_hex(8)}\ue001"
        if self.out is not None and not isinstance(self.out, SafeStream):
            self.out = SafeStream(self.out, self._mark)  # type: ignore[assignment]
        if self.err is not None and not isinstance(self.err, SafeStream):
            self.err = SafeStream(self.err, self._mark)  # type: ignore[assignment]

    @property
    def interactive(self) -> bool:
        isatty = getattr(sys.stdin, "isatty", None)
        return bool(isatty and isatty()) and bool(getattr(self.out, "isatty", lambda: False)())

    def style(self, text: str, *styles: str) -> str:
        if not self.colour or not styles:
            return text
        codes = ";".join(_COLOURS[s] for s in styles)
        return f"{self._mark}{codes}m{text}{self._mark}0m"

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def eprint(self, text: str = "") -> None:
        self.err.write(text + "\n")
        self.err.flush()
