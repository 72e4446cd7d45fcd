"""Loopform as a library: plan and apply from Python, without the CLI.

    from pathlib import Path
    from reconciler.connection import open_embedded
    from reconciler.library import apply, plan

    with open_embedded(Path(".loopform/state.db")) as backend:   # or any RestBackend
        planned = plan(["pipelines/"], backend)
        result = apply(planned, backend)
        assert result.ok

The same functions the CLI's `plan` and `apply` use, minus the terminal: nothing is printed, errors
are the exceptions of `reconciler.errors` (SpecErrors for the specs, ApiError for the backend),
and apply's progress is `on_event`'s to show.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.backend import Backend
from reconciler.project_paths import default_spec_dir
from reconciler.errors import Location, SpecError, SpecErrors
from reconciler.interpolate import Context
from reconciler.plan import Plan
from reconciler.planner import make_plan
from reconciler.spec.loader import SpecFile, load
from reconciler.spec_set import SpecSet, find_spec_set

if TYPE_CHECKING:
    from reconciler.apply import ApplyResult, ResultEvent, StartEvent, StepEvent


def __getattr__(name: str) -> Any:
    # `Result` (apply's result) without importing apply for a plan: `loopform plan` never applies.
    if name == "Result":
        from reconciler.apply import ApplyResult

        return ApplyResult
    raise AttributeError(name)


def default_paths() -> list[Path]:
    """The spec paths of a command given none: the project root's `pipelines/`."""
    return [default_spec_dir(Path.cwd())]


def spec_set_of(paths: Sequence[str | Path]) -> SpecSet:
    """The spec set the current directory belongs to, scoped to the spec paths given (default
    `pipelines/`): what `prune` may delete (reconciler.spec_set)."""
    return find_spec_set(Path.cwd(), list(paths) or default_paths())


def load_specs(paths: Sequence[str | Path], *, context: Context | None = None,
               warn: Callable[[SpecError], None] | None = None,
               read_ahead: Backend | None = None, default_project: str | None = None) -> list[SpecFile]:
    """The specs under `paths` (none: the project root's `pipelines/`), `${...}` filled from `context`.

    Warnings go to `warn` (dropped without it). Raises SpecErrors with every error, each located;
    finding no spec file at all is one of them (a mistyped path must not plan an empty world).
    With `read_ahead`, the backend starts fetching each project the specs use (a spec naming none:
    `default_project`) as soon as one names it, while the rest load.
    """
    shown = [Path(p) for p in paths] or default_paths()
    def on_project(name: str | None) -> None:
        wanted = name or default_project
        if wanted and read_ahead is not None:
            read_ahead.read_ahead(wanted)

    loaded = load(shown, context=context, on_project=on_project if read_ahead is not None else None)
    if warn is not None:
        for warning in (e for e in loaded.errors if e.severity == "warning"):
            warn(warning)
    errors = [e for e in loaded.errors if e.severity == "error"]
    if loaded.files == 0 and not errors:
        where = ", ".join(map(str, shown))
        errors.append(SpecError(f"no spec files (*.yaml, *.yml) found in {where}", Location(where)))
    if errors:
        raise SpecErrors(errors)
    return loaded.specs


def plan(paths: Sequence[str | Path], backend: Backend, *, default_project: str | None = None,
         prune: bool = False, context: Context | None = None,
         warn: Callable[[SpecError], None] | None = None) -> Plan:
    """The plan that makes `backend`'s pipelines equal the specs under `paths`.

    `default_project` is the project of specs that name none; `prune` plans deleting the pipelines
    this spec set (the repository or directory holding the specs) applied and no spec names any
    more. Spec warnings go to `warn`. Raises SpecErrors (every problem of the specs) or ApiError
    (the backend failed)."""
    try:
        specs = load_specs(paths, context=context, warn=warn, read_ahead=backend, default_project=default_project)
        planned = make_plan(specs, backend, default_project=default_project, prune=prune,
                            spec_set=spec_set_of(paths), context=context)
        return planned.model_copy(update={"paths": [str(p) for p in (list(paths) or default_paths())]})
    finally:
        backend.drop_read_ahead()


def apply(plan: Plan, backend: Backend, *, parallelism: int | None = None,
          on_event: Callable[[StartEvent | StepEvent | ResultEvent], None] | None = None,
          stop: threading.Event | None = None) -> ApplyResult:
    """Execute `plan` on `backend` (`reconciler.apply.apply_plan`): what was done, what failed and
    what was not attempted, per pipeline. A pipeline's failure is in the result, never raised.
    `parallelism` defaults to `reconciler.apply.DEFAULT_PARALLELISM`."""
    from reconciler.apply import DEFAULT_PARALLELISM, apply_plan

    return apply_plan(plan, backend, parallelism=DEFAULT_PARALLELISM if parallelism is None else parallelism,
                      on_event=on_event, stop=stop)
