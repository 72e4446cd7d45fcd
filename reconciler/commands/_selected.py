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
from reconciler.connection import backend_from_args, pipeline_from_args
from reconciler.document import Pipeline
from reconciler.errors import ConfigError
from reconciler.marker import read_marker
from reconciler.terminal import Terminal


@contextmanager
def selected_project(args: argparse.Namespace, term: Terminal, *,
                     writes: bool = True) -> Iterator[tuple[RestBackend, Project]]:
    """The backend and the selected project, for the duration of the `with` block (`writes=False`:
    a command that only reads, see `backend_from_args`).

    Raises ConfigError when no project is selected, NotFound when the project does not exist.
    """
    backend, project_name = backend_from_args(args, term, writes=writes)
    try:
        if not project_name:
            raise ConfigError("which project? Use --project, LOOPFORM_PROJECT or `project:` in loopform.yaml")
        yield backend, backend.project(project_name)
    finally:
        backend.close()


@contextmanager
def selected_pipeline(args: argparse.Namespace, term: Terminal, *,
                      writes: bool = True) -> Iterator[tuple[RestBackend, Project, Pipeline]]:
    """The backend, the selected project and its pipeline `args.name`, for the duration of the `with`
    block. Raises as `pipeline_from_args` does (NotFound names the project)."""
    backend, project, pipeline = pipeline_from_args(args, term, writes=writes)
    try:
        yield backend, project, pipeline
    finally:
        backend.close()


def warn_if_managed(term: Terminal, pipeline: Pipeline, consequence: str) -> None:
    """After an imperative change to a pipeline Loopform manages: say how its spec will undo or ignore it."""
    if read_marker(pipeline) is not None:
        term.eprint(term.style(f"warning: {pipeline.name!r} is managed by loopform; {consequence}", "yellow"))
