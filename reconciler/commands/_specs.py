"""The spec files a command plans from (`plan`, `apply`, `reconcile`): the library's
(`reconciler.library`), and the default path's name for help texts.

The context should come from `connection.context_from_args`: it redacts each `${env.*}` value
from the terminal as soon as loading reads it, before a spec error could quote it.

Not a verb: `cli.COMMANDS` lists the verbs.
"""

from __future__ import annotations

from reconciler.project_paths import SPECS_DIR
from reconciler.library import default_paths, load_specs, spec_set_of

DEFAULT_PATH = SPECS_DIR  # for help texts; the path read is default_paths()

__all__ = ["DEFAULT_PATH", "default_paths", "load_specs", "spec_set_of"]
