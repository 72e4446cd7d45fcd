"""What a command acts on: the project, or the named pipeline in it, that the flags, environment
and project file select (reconciler.connection), with the backend closed when the command is done.

Not a verb (the leading underscore keeps the CLI's command discovery away from it).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from reconciler.backend import Project
from reconciler.client import RestBackend
from reconciler.commands._specs import default_paths, load_specs
from reconciler.connection import backend_from_args, context_from_args
from reconciler.document import Pipeline
from reconciler.errors import ConfigError, NotFound, SpecErrors
from reconciler.marker import read_marker
from reconciler.terminal import Terminal


@contextmanager
def selected_project(args: argparse.Namespace, term: Terminal) -> Iterator[tuple[RestBackend, Project]]:
    """The backend and the selected project, for the duration of the `with` block.

    The project is the configured one (flag, selected environment, LOOPFORM_PROJECT, loopform.yaml),
    else the one project the specs in `pipelines/` name (a `--url` alone, as `plan` works with it).
    Raises ConfigError when neither decides, NotFound when the project does not exist.

    A missing embedded database is not created (`backend_from_args(writes=False)`): these commands
    act on pipelines that exist, and a database that does not exist holds none.
    """
    backend, project_name = backend_from_args(args, term, writes=False)
    try:
        yield backend, backend.project(project_name or _project_of_specs(args, term))
    finally:
        backend.close()


@contextmanager
def selected_pipeline(args: argparse.Namespace, term: Terminal) -> Iterator[tuple[RestBackend, Project, Pipeline]]:
    """The backend, the selected project (as `selected_project` finds it) and its pipeline
    `args.name`, for the duration of the `with` block. Raises NotFound naming the project."""
    with selected_project(args, term) as (backend, project):
        pipeline = backend.find_pipeline(project.id, args.name)
        if pipeline is None:
            raise NotFound(f"no pipeline named {args.name!r} in project {project.name!r}", status=404)
        yield backend, project, pipeline


def _project_of_specs(args: argparse.Namespace, term: Terminal) -> str:
    try:
        specs = load_specs([], context=context_from_args(args, term))
    except SpecErrors:  # no specs here, or broken ones: they decide nothing
        specs = []
    names = sorted({s.spec.metadata.project for s in specs if s.spec.metadata.project})
    where = default_paths()[0]
    if len(names) == 1:
        term.eprint(f"note: project {names[0]!r}: the one the specs in {where}/ name")
        return names[0]
    named = f" (the specs in {where}/ name {', '.join(map(repr, names))})" if names else ""
    raise ConfigError(f"which project?{named} Use --project, LOOPFORM_PROJECT, or `project:` in loopform.yaml "
                      "or in the environment")


def warn_if_managed(term: Terminal, pipeline: Pipeline, consequence: str) -> None:
    """After an imperative change to a pipeline Loopform manages: say how its spec will undo or ignore it."""
    if read_marker(pipeline) is not None:
        term.eprint(term.style(f"warning: {pipeline.name!r} is managed by loopform; {consequence}", "yellow"))
