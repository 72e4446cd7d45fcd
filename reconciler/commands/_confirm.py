"""Asking before a change, the same way for every command that changes live pipelines (`apply`,
`delete`): only a typed 'yes' goes on; without a terminal to ask on, nothing is changed unless the
user said `--auto-approve`.

Not a verb (the leading underscore keeps the CLI's command discovery away from it).
"""

from __future__ import annotations

import sys

from reconciler.errors import UserAbort
from reconciler.terminal import Terminal


def confirm(term: Terminal, question: str, *, verb: str) -> None:
    """Ask `question`; raise UserAbort unless the answer is 'yes'. `verb` names the change in the
    messages ("apply", "delete")."""
    if not term.interactive:
        raise UserAbort(f"no terminal to ask for confirmation on; re-run with --auto-approve to {verb} "
                        "without asking (as CI does)")
    term.out.write(f"\n{question} Only 'yes' is accepted: ")
    term.out.flush()
    answer = sys.stdin.readline().strip()
    if answer != "yes":
        raise UserAbort(f"{verb.capitalize()} cancelled; nothing was changed.")
