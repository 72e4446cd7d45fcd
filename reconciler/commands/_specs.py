"""The spec files a command plans from (`plan`, `apply`, `reconcile`).

The context should come from `connection.context_from_args`: it redacts each `${env.*}` value
from the terminal as soon as loading reads it, before a spec error could quote it.

Not a verb (the leading underscore keeps the CLI's command discovery away from it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from reconciler.config import SPECS_DIR, default_spec_dir
from reconciler.errors import Location, SpecError, SpecErrors
from reconciler.interpolate import Context
from reconciler.spec import SpecFile, load
from reconciler.spec_set import SpecSet, find_spec_set

DEFAULT_PATH = SPECS_DIR  # for help texts; the path read is default_paths()


def default_paths() -> list[Path]:
    """The spec paths of a command given none: the project root's `pipelines/`."""
    return [default_spec_dir(Path.cwd())]


def load_specs(paths: Sequence[str | Path], *, context: Context | None,
               warn: Callable[[SpecError], None] | None = None) -> list[SpecFile]:
    """The specs under `paths` (default `pipelines/`), `${...}` filled from `context`.

    Warnings go to `warn` (dropped without it). Raises SpecErrors with every error, each located;
    finding no spec file at all is one of them (a mistyped path must not plan an empty world).
    """
    shown = [Path(p) for p in paths] or default_paths()
    loaded = load(shown, context=context)
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


def spec_set_of(paths: Sequence[str | Path]) -> SpecSet:
    """The spec set the current directory belongs to, scoped to the spec paths given (default
    `pipelines/`): what `--prune` may delete (reconciler.spec_set)."""
    return find_spec_set(Path.cwd(), list(paths) or default_paths())
