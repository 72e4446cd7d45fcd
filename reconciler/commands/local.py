"""`loopform local seed FILE` / `loopform local token`: manage the local control plane's database.
`loopform local task NAME --item ID --action ACTION`: a person's action on an item in a task of the
local control plane (what dtlpy's `item.update_status` does), so that a pipeline waiting there for the
item goes on along that action's connections."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.project_paths import STATE_DB, STATE_DIR, default_state_db
from reconciler.settings_file import PROJECT_FILE
from reconciler.client.models import Task
from reconciler.commands._selected import selected_project
from reconciler.connection import add_backend_arguments
from reconciler.document import Pipeline
from reconciler.errors import ConfigError, NotFound
from reconciler.nodes.task import TASK_DEFAULT_ACTIONS, action_of, status_of
from reconciler.server import ControlPlane
from reconciler.server.seed import SEED_FORMAT, apply_seed, load_seed
from reconciler.server.store import StoreError
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=None,
                        help=f"state database (default {STATE_DIR}/{STATE_DB} at the project root, the folder "
                             f"of {PROJECT_FILE}, else of .git, else this one; created if missing)")
    sub = parser.add_subparsers(dest="local_command", metavar="ACTION")
    sub.required = True
    seed = sub.add_parser("seed", help="load projects, members, datasets, recipes, models, services",
                          description="Load projects, members, datasets, recipes, models and services into "
                                      "the local database.",
                          epilog=SEED_FORMAT, formatter_class=argparse.RawDescriptionHelpFormatter)
    seed.add_argument("file", type=Path, metavar="FILE", help="a YAML or JSON seed file")
    token = sub.add_parser("token", help="print a fresh access token for the local control plane")
    token.add_argument("--email", help="whose token (default: the default local user)")
    token.add_argument("--ttl", type=int, default=24 * 3600, help="validity in seconds (default 1 day)")
    task = sub.add_parser("task", help="take an action on an item in a task (complete, discard, ...), as a person "
                                       "would: the pipeline waiting there goes on",
                          description="Set an item's status in a task of the local control plane, as dtlpy's "
                                      "item.update_status does; a pipeline's task node waiting for the item sends "
                                      "it along the connections of that action. Reaches the control plane the "
                                      "backend flags select: the embedded one at the project root, or a "
                                      "`loopform serve` with --url (use it while serve runs on that database).")
    task.add_argument("name", metavar="NAME", help="the task's name (a task node's task is named after the node)")
    task.add_argument("--item", required=True, metavar="ID", help="the item's id")
    task.add_argument("--action", required=True, metavar="ACTION",
                      help="an action the task offers (complete, approve, discard, or the node's own), or the "
                           "status it sets (completed, approved)")
    task.add_argument("--pipeline", metavar="NAME", help="the pipeline whose task it is, when several tasks have the name")
    add_backend_arguments(task)


def _open(db: Path) -> ControlPlane:
    try:
        return ControlPlane(db)
    except StoreError as exc:
        raise ConfigError(str(exc)) from exc


def run(args: argparse.Namespace, term: Terminal) -> int:
    if args.local_command == "task":
        if args.db is not None:
            raise ConfigError("`local task` reaches the control plane through the backend flags (nothing for the "
                              "embedded one, --url for a `loopform serve`), not --db")
        return _task_action(args, term)
    args.db = args.db or default_state_db(Path.cwd())
    if args.local_command == "seed":
        seed = load_seed(args.file)  # validate before creating a database
        plane = _open(args.db)
        try:
            result = apply_seed(plane, seed, base_dir=args.file.parent)
        finally:
            plane.close()
        created = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in sorted(result.created.items()))
        kept = sum(result.kept.values())
        term.print(f"Seeded {args.db}: created {created or 'nothing'}; {kept} already present.")
        return 0
    if args.ttl <= 60:
        raise ConfigError("--ttl must be more than 60 seconds (dtlpy refuses tokens that expire sooner)")
    plane = _open(args.db)
    try:
        term.print(plane.mint_token(args.email, ttl_seconds=args.ttl))
    finally:
        plane.close()
    return 0


def _task_action(args: argparse.Namespace, term: Terminal) -> int:
    with selected_project(args, term) as (backend, project):
        if backend.control_plane is None and backend.server_info() is None:
            raise ConfigError(f"`local task` acts on a local control plane; {backend.label} is Dataloop, where "
                              "people take actions in the web app (or dtlpy's item.update_status)")
        pipelines = {p.id: p for p in backend.list_pipelines(project.id)}
        tasks = backend.tasks_named(project.id, args.name)
        if args.pipeline is not None:
            tasks = [t for t in tasks if getattr(pipelines.get(t.system.get("pipelineId")), "name", None) == args.pipeline]
        if not tasks:
            of = f" of pipeline {args.pipeline!r}" if args.pipeline is not None else ""
            raise NotFound(f"no task named {args.name!r}{of} in project {project.name!r}")
        if len(tasks) > 1:
            owners = sorted(str(getattr(pipelines.get(t.system.get("pipelineId")), "name", "(none)")) for t in tasks)
            raise ConfigError(f"{len(tasks)} tasks are named {args.name!r} in project {project.name!r} (of pipelines "
                              f"{', '.join(owners)}): choose one with --pipeline")
        (task,) = tasks
        try:
            item = backend.item(args.item)
        except NotFound:
            raise NotFound(f"no item {args.item!r} in project {project.name!r}") from None
        if not item.in_task(task.id):
            raise ConfigError(f"item {args.item!r} is not in task {task.name!r}")
        offered = _offered_actions(task, pipelines.get(task.system.get("pipelineId")))
        action = action_of(args.action, offered)
        if action is None:
            raise ConfigError(f"task {task.name!r} offers no action {args.action!r}; its actions: {', '.join(offered)}")
        if not backend.set_item_status(task.id, item.id, status_of(action)):
            raise ConfigError(f"item {args.item!r} is not in task {task.name!r}")
    term.print(f"Item {item.name or item.id} in task {task.name!r}: {status_of(action)} ({action})")
    return 0


def _offered_actions(task: Task, pipeline: Pipeline | None) -> list[str]:
    """What a person may do in the task: its node's output actions for a task node's task, else the
    task's own list, else the defaults of its type."""
    node = next((n for n in (pipeline.nodes if pipeline else []) if n.id == task.system.get("nodeId")), None)
    if node is not None:
        actions = [a for port in node.outputs for a in port.actions or []]
        if actions:
            return list(dict.fromkeys(actions))
    return task.own_actions() or TASK_DEFAULT_ACTIONS.get(str(task.spec.get("type") or "annotation"),
                                                         TASK_DEFAULT_ACTIONS["annotation"])
