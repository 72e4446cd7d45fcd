"""Where a Loopform project keeps things, found without reading any of them: its root, the specs a
command reads when it names none, the embedded default's database; and the environment variables that
select settings. Kept apart from the settings models (reconciler.config) so that `loopform validate`,
which needs only these names, does not build those models."""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.settings_file import PROJECT_FILE

SPECS_DIR = "pipelines"  # where specs are read when a command names none
STATE_DIR = ".loopform"
STATE_DB = "state.db"
ENV_URL = "LOOPFORM_API_URL"
ENV_TOKEN = "LOOPFORM_TOKEN"
ENV_PROJECT = "LOOPFORM_PROJECT"
ENV_ENVIRONMENT = "LOOPFORM_ENV"


def project_root(cwd: Path) -> Path:
    """The project `cwd` lies in: the nearest directory (cwd or above) holding `loopform.yaml`;
    else the git top level (the nearest holding `.git`, where the search stops: a file above the
    repository belongs to something else); else `cwd` itself."""
    for folder in (cwd, *cwd.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
        if (folder / ".git").exists():
            return folder
    return cwd


def default_spec_dir(cwd: Path) -> Path:
    """The specs a command reads when it names none: `pipelines/` of the project root, shown
    relative to `cwd`. Run from a subdirectory, a command reads the same specs as at the root, as
    it uses the same loopform.yaml and state (without it, `status` showed no spec status there
    and the one-project commands found no project)."""
    return Path(os.path.relpath(project_root(cwd) / SPECS_DIR, cwd))


def default_state_db(cwd: Path) -> Path:
    """The embedded default's database for a command run in `cwd`."""
    return project_root(cwd) / STATE_DIR / STATE_DB
