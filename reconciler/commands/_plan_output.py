"""How `plan` and `show` print a plan: text, or JSON / Markdown by flag.

Not a verb (the leading underscore says so). The JSON and Markdown renderers are imported when
chosen: a text plan does not load them.
"""

from __future__ import annotations

import argparse

from reconciler.plan import Plan
from reconciler.render.text import render_plan
from reconciler.terminal import Terminal


def add_format_arguments(parser: argparse.ArgumentParser) -> None:
    """--json | --markdown (text otherwise), as `print_plan` reads them."""
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the plan as JSON (format_version 1)")
    fmt.add_argument("--markdown", action="store_true", help="print the plan as Markdown for a PR comment")


def print_plan(plan: Plan, args: argparse.Namespace, term: Terminal) -> None:
    """The plan on stdout in the format `add_format_arguments` chose."""
    if args.json:
        from reconciler.render.jsonfmt import render_json

        term.print(render_json(plan))
    elif args.markdown:
        from reconciler.render.markdown import render_markdown

        term.print(render_markdown(plan))
    else:
        term.print(render_plan(plan, term))
