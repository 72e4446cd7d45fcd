"""`loopform status`: the pipelines Loopform manages in a project, like `kubectl get` with Argo CD's
sync status: each pipeline's status as its spec says it, as it is live (in the spec's words, the
plan's), and whether live is still what Loopform last applied (in-sync / drifted / not-managed;
a pause made through dtlpy or REST is drift)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pydantic import BaseModel

from reconciler.commands._selected import selected_project
from reconciler.commands._specs import DEFAULT_PATH, default_paths
from reconciler.connection import add_backend_arguments, context_from_args
from reconciler.diff import SyncState, sync_state
from reconciler.spec import load
from reconciler.spec_terms import spec_status
from reconciler.terminal import Terminal


_COLOURS = {"installed": "green", "paused": "yellow", "in-sync": "green", "drifted": "yellow",
            "not-managed": "dim"}


class StatusRow(BaseModel):
    """One pipeline as `status` shows it (and as `status --json` lists it)."""

    name: str
    id: str | None
    status: str | None  # the platform's word (`Installed`, `Uninstalled`, `Created`, ...)
    nodes: int
    managed: bool
    updatedAt: str | None
    spec: str | None = None  # the spec's `status` (installed / paused); None: no spec here
    live: str | None = None  # the live status in the spec's words
    sync: SyncState = "not-managed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help=f"specs to show the SPEC column from (default: {DEFAULT_PATH}/ when it exists)")
    parser.add_argument("--all", action="store_true", help="include pipelines Loopform does not manage")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    add_backend_arguments(parser)


def _spec_statuses(args: argparse.Namespace, term: Terminal, project: str) -> dict[str, str]:
    """name -> the status the specs give pipelines of `project`. A spec that does not load is left
    out (`validate` says why): status shows the live side whatever the specs' state."""
    paths = [Path(p) for p in args.paths] or [p for p in default_paths() if p.exists()]
    if not paths:
        return {}
    loaded = load(paths, context=context_from_args(args, term))
    return {sf.spec.metadata.name: sf.spec.spec.status for sf in loaded.specs
            if (sf.spec.metadata.project or project) == project}


def run(args: argparse.Namespace, term: Terminal) -> int:
    with selected_project(args, term) as (backend, project):
        specs = _spec_statuses(args, term, project.name)
        rows = []
        for pipeline in sorted(backend.list_pipelines(project.id), key=lambda p: p.name):
            sync = sync_state(pipeline)
            managed = sync != "not-managed"
            if managed or args.all:
                rows.append(StatusRow(name=pipeline.name, id=pipeline.id, status=pipeline.status,
                                      nodes=len(pipeline.nodes), managed=managed, updatedAt=pipeline.updatedAt,
                                      spec=specs.get(pipeline.name), live=spec_status(pipeline.status),
                                      sync=sync))
    if args.json:
        term.print(json.dumps({"project": project.name, "projectId": project.id,
                               "pipelines": [r.model_dump(mode="json") for r in rows]}, indent=2))
        return 0
    if not rows:
        what = "pipelines" if args.all else "managed pipelines (use --all to see the others)"
        term.print(f"No {what} in project {project.name!r}.")
        return 0
    width = max(len("NAME"), *(len(r.name) for r in rows))
    term.print(f"{'NAME'.ljust(width)}  {'SPEC':<10} {'LIVE':<10} {'SYNC':<12} {'NODES':>5}  ID")
    for r in rows:
        spec, live = r.spec or "-", r.live or "?"
        term.print(f"{r.name.ljust(width)}  {term.style(spec.ljust(10), _COLOURS.get(spec, 'dim'))} "
                   f"{term.style(live.ljust(10), _COLOURS.get(live, 'red'))} "
                   f"{term.style(r.sync.ljust(12), _COLOURS[r.sync])} {r.nodes:>5}  {r.id}")
    return 0
