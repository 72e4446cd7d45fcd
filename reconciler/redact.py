"""Keeping secret variable values out of every output.

Redaction works on text, after rendering, so no renderer, error message or log line has to know
which values are secret: the CLI edge wraps the terminal's streams (`install`) and the logging
handlers; saved plans are redacted when written and restored from the current environment's
variables when read back (`reconciler.planfile`).

Each secret is matched in the forms in which it can appear in output: as is, JSON-escaped (inside
a JSON or saved plan) up to three times (a DQL filter is a JSON string inside the JSON plan),
Python-repr-escaped (inside an error that quotes a value with `!r`), XML-escaped (an SVG graph),
Markdown- and Mermaid-escaped (the PR comment's table and diagrams) and URL-quoted (an API error
naming the request's path).

What is secret: variables of loopform.yaml marked `secret:` (the default for one read with `env:`),
every `${env.NAME}` value a spec uses (see `reconciler.interpolate`), and the API token. In saved
plans an `${env.NAME}` value is `(sensitive:env.NAME)`, put back from the process environment.
Values shorter than `MIN_SECRET` characters are not matched (a token of `t` would blank every `t`);
loopform.yaml refuses secret variables that short (see `reconciler.config`).

Renderers shorten long values (`"xxx…stg-7f3a..."`: `reconciler.render.values.short`, the Markdown
comment's size limit), which can cut a secret in two and leave its beginning in the output. So a
beginning of a secret (even one character) is redacted too when an ellipsis (`...` or `…`, possibly
after a line break or `_`) follows it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

from reconciler.sensitive import MIN_SECRET
from reconciler.terminal import Terminal

SENSITIVE = "(sensitive)"
# In saved plans a secret becomes `(sensitive:NAME)`, so that apply can put the value back.
def forms(secret: str) -> list[str]:
    # The renderers' escapings, loaded once there is a secret: validate needs no renderer (nor
    # saxutils, which imports urllib.request, http.client and ssl).
    from xml.sax.saxutils import escape as xml_escape

    from reconciler.render.escaping import markdown_cell, mermaid_text

    # JSON-escaped up to three times: a filter (a JSON string) in an API error's JSON message
    # quoted by an apply event's JSON line.
    in_json: set[str] = set()
    level = {secret}
    for _ in range(3):
        level = {json.dumps(f, ensure_ascii=ascii)[1:-1] for f in level for ascii in (True, False)}
        in_json |= level
    forms = {secret, *in_json,
             repr(secret)[1:-1], xml_escape(secret), xml_escape(secret, {'"': "&quot;"}),
             markdown_cell(secret), mermaid_text(secret),
             quote(secret, safe=""), quote(secret), quote_plus(secret, safe="")}
    # Longest first, so that an escaped form containing the raw one is replaced whole.
    return sorted((f for f in forms if f), key=len, reverse=True)


# What a renderer puts after a value it cut short (see the module docstring).
_CUT = re.compile(r"[\s_]*(?:\.\.\.|…)")


class Redactor:
    """Replaces every occurrence of the given secret values with `(sensitive)`, and every
    beginning of one that an ellipsis follows (a value cut short by a renderer)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        secrets = list(secrets)
        # A multi-line secret (a key or credentials file in an environment variable) is also shown
        # line by line, e.g. as the context lines of a code diff: each of its lines is secret too.
        lines = [line.strip() for s in secrets if "\n" in s for line in s.splitlines()]
        self.secrets = tuple(dict.fromkeys(s for s in secrets + lines if len(s) >= MIN_SECRET))
        self._forms = sorted({f for s in self.secrets for f in forms(s)}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(f) for f in self._forms)) if self._forms else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        text = self._pattern.sub(SENSITIVE, text)
        if "..." not in text and "…" not in text:
            return text
        parts: list[str] = []
        done = 0  # text[:done] is settled
        for match in _CUT.finditer(text):
            start = self._cut_start(text, done, match.start())
            if start is not None:
                parts.append(text[done:start] + SENSITIVE)
                done = match.start()
        return "".join(parts) + text[done:]

    def _cut_start(self, text: str, lower: int, end: int) -> int | None:
        """Where the longest beginning of a secret that ends at `end` starts.

        Even one character is taken: a spec author can place a value so that the cut leaves exactly
        its first characters, and an over-eager redaction of a value already cut short costs little.
        """
        best = None
        for form in self._forms:
            head = form[:MIN_SECRET]
            begin = max(lower, end - len(form) + 1)  # a whole form was redacted already
            at = text.find(head, begin, end)
            while at != -1 and (best is None or at < best):
                if form.startswith(text[at:end]):
                    best = at
                    break
                at = text.find(head, at + 1, end)
            for size in range(min(MIN_SECRET - 1, end - lower), 0, -1):
                if best is not None and best <= end - size:
                    break
                if form.startswith(text[end - size:end]):
                    best = end - size
                    break
        return best


class RedactingStream:
    """A text stream that redacts what is written to it and delegates everything else.

    The terminal writes whole lines (`Terminal.print`), so a secret is never split across writes.
    """

    def __init__(self, inner: TextIO, redactor: Redactor) -> None:
        self._inner = inner
        self._redactor = redactor

    @property
    def redactor(self) -> Redactor:
        """What this stream redacts with (replaced, never mutated, when secrets are added)."""
        return self._redactor

    def write(self, text: str) -> int:
        self._inner.write(self._redactor(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _LogFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor(record.getMessage())
        record.args = None
        return True


def install(term: Terminal, redactor: Redactor) -> None:
    """Redact everything written through `term` (a Terminal) from now on, and every log record.

    Installing again adds the new secrets to those already redacted (never double-wraps).
    """
    if not redactor:
        return
    with _INSTALLING:  # apply's worker threads read pipelines (and so install) at the same time
        _install(term, redactor)


_INSTALLING = threading.Lock()


def _install(term: Terminal, redactor: Redactor) -> None:
    if isinstance(term.err, RedactingStream) and set(redactor.secrets) <= set(term.err.redactor.secrets):
        return  # known already (every pipeline read reports its secrets, every reconcile cycle)
    for attr in ("out", "err"):
        stream = getattr(term, attr)
        if isinstance(stream, RedactingStream):
            stream._redactor = Redactor(stream._redactor.secrets + redactor.secrets)
        else:
            setattr(term, attr, RedactingStream(stream, redactor))
    root = logging.getLogger()
    for handler in root.handlers:
        old = [f for f in handler.filters if isinstance(f, _LogFilter)]
        known = old[0].redactor.secrets if old else ()
        for f in old:
            handler.removeFilter(f)
        handler.addFilter(_LogFilter(Redactor(known + redactor.secrets)))


def _redactor_of(term: Terminal) -> Redactor | None:
    # `install` wraps both streams with the same secrets: the error stream stands for both.
    stream = term.err
    return stream.redactor if isinstance(stream, RedactingStream) else None


def redact_like(term: Terminal, text: str) -> str:
    """`text` redacted as `term`'s output would be (unchanged when nothing is secret).

    For output that does not go through the terminal, such as the crash log the CLI writes.
    """
    redactor = _redactor_of(term)
    return redactor(text) if redactor is not None else text


def hidden_values(term: Terminal) -> tuple[str, ...]:
    """Every value `term`'s output is redacted of (empty when nothing is secret)."""
    redactor = _redactor_of(term)
    return redactor.secrets if redactor is not None else ()
