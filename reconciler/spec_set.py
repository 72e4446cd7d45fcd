"""Which spec set a plan speaks for, so that `--prune` deletes only what that set applied.

A spec set is the specs of one repository (the model: kubectl ApplySets, Argo CD's app instance
label). Its identity is written into the marker of every pipeline it applies (`Marker.specSet`),
with the spec file's path (`Marker.specPath`, relative to the set's root) and the pipeline's own id
(`Marker.pipelineId`). Prune deletes a pipeline only when all three say it is this set's, from a
file the command was given (`SpecSet.covers`): pruning with `pipelines/one.yaml` never deletes the
pipelines of `pipelines/two.yaml`.

Identity, first found: `name:` in `loopform.yaml`; the repository's `origin` remote (host and path,
credentials dropped), the same on every clone and CI runner; else the root directory's path.
The root is the directory holding `loopform.yaml`, else the git top level, else the current one.

`SpecSet` itself is pure; `find_spec_set` is the edge that reads files and asks git.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from reconciler.config import load_project_file
from reconciler.settings_file import PROJECT_FILE

_GIT_TIMEOUT_S = 5


@dataclass(frozen=True)
class SpecSet:
    """A spec set and the part of it one command was given.

    `identity` None is the library default (no repository known): markers then carry no
    `specSet`, and prune considers only markers without one. `scope` lists the given spec paths
    (files or directories, relative to `root`, posix); None: the whole set.
    """

    identity: str | None = None
    root: Path | None = None
    scope: tuple[str, ...] | None = None

    def member_path(self, path: str | Path) -> str:
        """A spec file's path as the marker records it: relative to the root, posix."""
        resolved = Path(os.path.abspath(path))
        if self.root is not None:
            try:
                return resolved.relative_to(self.root).as_posix()
            except ValueError:
                pass
        return resolved.as_posix()

    def covers(self, spec_path: str | None) -> bool:
        """Whether a pipeline applied from `spec_path` belongs to the part given: the file itself
        or a directory holding it. A pipeline whose marker names no file is covered only by the
        whole set."""
        if self.scope is None:
            return True
        if spec_path is None:
            return False
        member = PurePosixPath(spec_path)
        return any(given in (".", "") or member == PurePosixPath(given)
                   or PurePosixPath(given) in member.parents for given in self.scope)


def find_root(cwd: Path) -> Path:
    """The directory holding `loopform.yaml` (searched upwards), else the git top level, else `cwd`."""
    cwd = Path(os.path.abspath(cwd))
    for directory in (cwd, *cwd.parents):
        if (directory / PROJECT_FILE).is_file():
            return directory
    for directory in (cwd, *cwd.parents):
        if (directory / ".git").exists():
            return directory
    return cwd


def remote_identity(url: str) -> str | None:
    """`git@github.com:o/r.git`, `https://user:token@github.com/o/r` -> `github.com/o/r`: the same
    for every clone, and never a credential."""
    url = url.strip()
    if not url:
        return None
    if "://" in url:
        parts = urlsplit(url)
        host, path = parts.hostname or "", parts.path
    elif ":" in url and not url.startswith("/"):
        host, _, path = url.partition(":")
        host = host.rpartition("@")[2]
    else:
        return None  # a local path: differs per machine, not an identity
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return f"{host.lower()}/{path}" if host and path else None


def _origin_url(root: Path) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), "config", "--get", "remote.origin.url"],
                              capture_output=True, text=True, timeout=_GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None  # no git on this machine
    return done.stdout.strip() if done.returncode == 0 else None


def find_spec_set(cwd: Path, paths: Sequence[str | Path]) -> SpecSet:
    """The spec set the current directory belongs to, scoped to `paths` (the spec paths given).
    Raises ConfigError when `loopform.yaml` is unreadable."""
    root = find_root(cwd)
    project_file = root / PROJECT_FILE
    name = load_project_file(project_file).name if project_file.is_file() else None
    identity: str | None = f"name:{name}" if name else None
    if identity is None and (root / ".git").exists():
        origin = _origin_url(root)
        remote = remote_identity(origin) if origin else None
        identity = f"git:{remote}" if remote else None
    if identity is None:
        identity = f"dir:{root.as_posix()}"
    base = SpecSet(identity=identity, root=root)
    return SpecSet(identity=identity, root=root,
                   scope=tuple(base.member_path(Path(cwd) / p) for p in paths))
