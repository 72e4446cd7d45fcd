"""`loopform status`: the live status of the pipelines Loopform manages in a project."""

from __future__ import annotations

import argparse
import json

from pydantic import BaseModel

from reconciler.commands._selected import selected_project
from reconciler.connection import add_backend_arguments
from reconciler.marker import read_marker
from reconciler.terminal import Terminal

NAME = "status"
HELP = "show the live status of managed pipelines"

_COLOURS = {"Installed": "green", "Failure": "red", "Uninstalled": "yellow"}


class StatusRow(BaseModel):
    """One pipeline as `status` shows it (and as `status --json` lists it)."""

    name: str
    id: str | None
    status: str | None
    nodes: int
    managed: bool
    updatedAt: str | None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="include pipelines Loopform does not manage")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    add_backend_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    with selected_project(args, term) as (backend, project):
        rows = []
        for pipeline in sorted(backend.list_pipelines(project.id), key=lambda p: p.name):
            managed = read_marker(pipeline) is not None
            if managed or args.all:
                rows.append(StatusRow(name=pipeline.name, id=pipeline.id, status=pipeline.status,
                                      nodes=len(pipeline.nodes), managed=managed, updatedAt=pipeline.updatedAt))
    if args.json:
        term.print(json.dumps({"project": project.name, "projectId": project.id,
                               "pipelines": [r.model_dump(mode="json") for r in rows]}, indent=2))
        return 0
    if not rows:
        what = "pipelines" if args.all else "managed pipelines (use --all to see the others)"
        term.print(f"No {what} in project {project.name!r}.")
        return 0
    width = max(len(r.name) for r in rows)
    term.print(f"{'NAME'.ljust(width)}  {'STATUS':<12} {'NODES':>5}  MANAGED  ID")
    for r in rows:
        status = r.status or "?"
        styled = term.style(status.ljust(12), _COLOURS.get(status, "dim"))
        term.print(f"{r.name.ljust(width)}  {styled} {r.nodes:>5}  {'yes' if r.managed else 'no':<7}  {r.id}")
    return 0
