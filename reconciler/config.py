"""Where Loopform sends its requests: flags > environment > project file > the embedded default.

Not pure: it reads the project file (`loopform.yaml`) and the dtlpy login file from the directories
it is given. It never reads `os.environ` itself: `resolve_settings` takes the flag values and an
environment mapping (the CLI edge passes them in), so every precedence rule is testable.

The safety rule: a remote API is used only when Loopform's own configuration selects it — a URL
(`--url`, `LOOPFORM_API_URL`, `url:` in loopform.yaml) or `backend: dataloop` (flag or file). A dtlpy
login lying on the machine, or a stray `LOOPFORM_TOKEN`, never sends the specs anywhere by itself;
without a selection the embedded local control plane in `.loopform/` is used.

Where: the project file and the embedded default's `.loopform/` live at the project root
(`project_root`), found from any subdirectory as git finds `.git`, so that `cd pipelines && loopform
plan .` plans against the same state and settings as the root.

Environments: `loopform.yaml` may name environments (`--env NAME` or LOOPFORM_ENV selects one), each
with its own backend/url/project and variables. An environment chosen on the command line counts
as a flag: its settings beat the LOOPFORM_* variables and the file's top level. Variables (for
`${var.NAME}` in specs) are the file's top-level `variables:` overlaid with the environment's; a
value is a scalar, `{value: X, secret: true}`, or `{env: NAME}` (read from the process environment,
so secrets need not be committed). A variable read from the environment is secret unless it says
`secret: false`: the environment of a CI runner holds its secrets, and forgetting the flag must not
print one. Secret values are redacted from every output (as are `${env.NAME}` values in specs).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from reconciler.errors import ConfigError
from reconciler.interpolate import Context, Scalar, Variable
from reconciler.sensitive import MIN_SECRET
from reconciler.project_paths import ENV_ENVIRONMENT, ENV_PROJECT, ENV_TOKEN, ENV_URL, STATE_DB, STATE_DIR, project_root
from reconciler.settings_file import PROJECT_FILE, load_settings_file

DEFAULT_API_URL = "https://gate.dataloop.ai/api/v1"
DEFAULT_LOCAL_PROJECT = "local"
_MAX_PROJECT_FILE = 1 << 20


class BackendKind(str, Enum):
    LOCAL = "local"  # the embedded control plane, in-process
    DATALOOP = "dataloop"  # a REST API: the real gate, or `loopform serve`


class VariableDecl(BaseModel):
    """A variable's source: a literal `value`, or the process environment variable `env`.

    `secret` unset means: secret when read from the environment, not secret for a literal value
    (`is_secret`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: Scalar | None = None
    env: str | None = None
    secret: bool | None = None
    description: str | None = None

    @property
    def is_secret(self) -> bool:
        return self.secret if self.secret is not None else self.env is not None

    @model_validator(mode="after")
    def _one_source(self) -> VariableDecl:
        if (self.value is None) == (self.env is None):
            raise ValueError("give exactly one of `value:` or `env:`")
        return self


def _scalar_shorthand(value: Any) -> Any:
    # `threshold: 0.5` is short for `threshold: {value: 0.5}`.
    return {"value": value} if not isinstance(value, dict) else value


VariableEntry = Annotated[VariableDecl, BeforeValidator(_scalar_shorthand)]


class _Target(BaseModel):
    """Where specs are applied and with which variables: the file's top level, or one environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: BackendKind | None = None
    url: str | None = None
    project: str | None = None
    console_url: str | None = None
    variables: dict[str, VariableEntry] = Field(default_factory=dict)


class EnvironmentDecl(_Target):
    """One named environment: where it lives and the variables its specs are applied with.

    `projects` lists the other projects its specs may name besides `project:`. When an environment
    names a project, a spec naming any other is an error: `--env staging` must never apply a spec
    that says `project: demo-prod` to prod."""

    description: str | None = None
    projects: list[str] = Field(default_factory=list)


class ProjectFile(_Target):
    """`loopform.yaml`. Unknown top-level keys are kept (forward compatibility)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str | None = None  # the spec set's identity: what `--prune` may delete (reconciler.spec_set)
    default_environment: str | None = None
    environments: dict[str, EnvironmentDecl] = Field(default_factory=dict)


@dataclass(frozen=True)
class Flags:
    """The backend flags as parsed (None = not given)."""

    backend: BackendKind | None = None
    url: str | None = None
    project: str | None = None
    strict: bool = False
    environment: str | None = None  # --env


@dataclass(frozen=True)
class Settings:
    """The decision: which backend, where, as which project, and why (for the stderr banner)."""

    kind: BackendKind
    project: str | None
    selected_by: str  # e.g. "--url", "LOOPFORM_API_URL", "loopform.yaml", "default"
    url: str | None = None  # remote only
    token: str | None = field(default=None, repr=False)  # remote only; never printed
    token_source: str | None = None
    console_url: str | None = None
    strict: bool = False
    state_db: Path | None = None  # local only
    notes: tuple[str, ...] = ()  # things the user should know (printed as notes on stderr)
    environment: str | None = None  # the selected environment's name
    variables: dict[str, Variable] = field(default_factory=dict, repr=False)  # may hold secrets


def load_project_file(path: Path) -> ProjectFile:
    """Parse `loopform.yaml`; any problem is a ConfigError naming the file (and line, where known)."""
    return load_settings_file(path, ProjectFile, what="project file", max_bytes=_MAX_PROJECT_FILE)


def dtlpy_cookie_path(env: Mapping[str, str], home: Path) -> Path:
    """dtlpy's login file: `$DATALOOP_PATH/cookie.json`, else `~/.dataloop/cookie.json` (ref. 1.2)."""
    base = env.get("DATALOOP_PATH")
    return (Path(base) if base else home / ".dataloop") / "cookie.json"


def dtlpy_token(cookie: Path, api_url: str) -> str | None:
    """The token dtlpy stored for exactly this API URL, if any.

    Only the entry for the same environment is used: a production token must never be sent to
    some other URL the user pointed Loopform at.
    """
    try:
        data = json.loads(cookie.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    params = data.get("login_parameters") if isinstance(data, dict) else None
    if not isinstance(params, dict):
        return None
    wanted = api_url.rstrip("/")
    for env_url, entry in params.items():
        if isinstance(env_url, str) and env_url.rstrip("/") == wanted and isinstance(entry, dict):
            token = entry.get("token")
            return token if isinstance(token, str) and token else None
    return None


def console_for(api_url: str) -> str | None:
    """The web console for a gate URL: gate.X -> console.X (prod: https://console.dataloop.ai)."""
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    if host.startswith("gate."):
        return f"{parts.scheme}://console.{host[len('gate.'):]}"
    return None


def select_environment(flags: Flags, env: Mapping[str, str],
                       file: ProjectFile) -> tuple[str | None, EnvironmentDecl]:
    """The environment chosen by --env, else LOOPFORM_ENV, else `default_environment:` (or none)."""
    name = flags.environment or env.get(ENV_ENVIRONMENT) or file.default_environment
    if not name:
        return None, EnvironmentDecl()
    if name not in file.environments:
        known = ", ".join(sorted(file.environments)) or f"none: add `environments:` to {PROJECT_FILE}"
        raise ConfigError(f"unknown environment {name!r} (defined: {known})")
    return name, file.environments[name]


def resolve_variables(file: ProjectFile, environment: EnvironmentDecl,
                      env: Mapping[str, str]) -> dict[str, Variable]:
    """The file's variables overlaid with the environment's, with `env:` sources read from `env`.

    A missing source is not an error here: only a spec that uses the variable fails (located).
    """
    merged = {**file.variables, **environment.variables}
    out: dict[str, Variable] = {}
    for name, entry in sorted(merged.items()):
        decl = entry
        value = env.get(decl.env) if decl.env is not None else decl.value
        missing = None if value is not None else f"environment variable {decl.env} is not set"
        if decl.is_secret and value is not None and len(str(value)) < MIN_SECRET:
            # Redaction replaces the value wherever it occurs: a two-letter secret would blank
            # unrelated text, and leaving it unredacted would break the promise.
            value, missing = None, f"a secret must be at least {MIN_SECRET} characters long"
            if decl.secret is None:
                missing += f" (read from {decl.env}, it is secret unless declared with `secret: false`)"
        out[name] = Variable(name=name, value=value, secret=decl.is_secret, missing=missing)
    return out


@dataclass(frozen=True)
class Environment:
    """The selected environment (name None: none selected) and its resolved variables."""

    name: str | None
    variables: dict[str, Variable] = field(default_factory=dict, repr=False)  # may hold secrets
    projects: frozenset[str] = frozenset()  # the projects its specs may name (empty: any)

    def context(self, env: Mapping[str, str], *, on_sensitive: Callable[[str], None] | None = None) -> Context:
        """The interpolation context; `on_sensitive` gets each `${env.*}` value read (see Context)."""
        return Context(variables=dict(self.variables), env=dict(env), environment=self.name,
                       on_sensitive=on_sensitive, projects=self.projects)

    def secrets(self) -> dict[str, str]:
        """name -> value of every secret variable that has a value."""
        return {n: str(v.value) for n, v in self.variables.items() if v.secret and v.value is not None}


def resolve_environment(flags: Flags, *, env: Mapping[str, str], cwd: Path) -> Environment:
    """Only the environment and its variables (no backend decision, so no token is needed):
    what loading specs needs, e.g. for `show --offline`."""
    file_path = project_root(cwd) / PROJECT_FILE
    project_file = load_project_file(file_path) if file_path.is_file() else ProjectFile()
    name, environment = select_environment(flags, env, project_file)
    return Environment(name, resolve_variables(project_file, environment, env), projects=environment_projects(environment))


def environment_projects(environment: EnvironmentDecl) -> frozenset[str]:
    """The projects an environment's specs may name: its `project:` and `projects:` (empty when it
    names none: then any project is the user's choice)."""
    return frozenset([*([environment.project] if environment.project else []), *environment.projects])


def resolve_settings(flags: Flags, *, env: Mapping[str, str], cwd: Path, home: Path) -> Settings:
    """Apply the precedence rules. Raises ConfigError when a remote is selected without a token,
    or an unknown environment is named."""
    root = project_root(cwd)
    file_path = root / PROJECT_FILE
    project_file = load_project_file(file_path) if file_path.is_file() else ProjectFile()
    notes: list[str] = []
    env_name, environment = select_environment(flags, env, project_file)
    variables = resolve_variables(project_file, environment, env)

    project, _ = _first((flags.project, "--project"), (environment.project, f"environment {env_name}"),
                        (env.get(ENV_PROJECT) or None, ENV_PROJECT), (project_file.project, PROJECT_FILE))

    kind, url, selected_by = _select(flags, env, project_file, environment, env_name)

    if kind is BackendKind.LOCAL:
        if env.get(ENV_TOKEN) and selected_by == "default":
            notes.append(f"{ENV_TOKEN} is set but no API URL is selected (--url, {ENV_URL} or "
                         f"{PROJECT_FILE}); using the embedded local control plane.")
        return Settings(kind=kind, project=project or DEFAULT_LOCAL_PROJECT, selected_by=selected_by,
                        strict=flags.strict, state_db=root / STATE_DIR / STATE_DB, notes=tuple(notes),
                        environment=env_name, variables=variables)

    if flags.strict:
        raise ConfigError("--strict applies to the embedded local control plane; a remote API "
                          "decides its own strictness")
    assert url is not None
    _check_url(url)
    token, token_source = env.get(ENV_TOKEN) or None, ENV_TOKEN
    if token is None:
        cookie = dtlpy_cookie_path(env, home)
        token, token_source = dtlpy_token(cookie, url), f"dtlpy login ({cookie})"
    if token is None:
        raise ConfigError(f"no token for {url}: set {ENV_TOKEN}, or log in with dtlpy to that environment")
    console = environment.console_url or project_file.console_url or console_for(url)
    return Settings(kind=kind, project=project, selected_by=selected_by, url=url.rstrip("/"),
                    token=token, token_source=token_source, console_url=console, notes=tuple(notes),
                    environment=env_name, variables=variables)


def _select(flags: Flags, env: Mapping[str, str], file: ProjectFile, environment: EnvironmentDecl,
            env_name: str | None) -> tuple[BackendKind, str | None, str]:
    # Each layer either decides the backend or passes; the first layer that decides wins.
    if flags.backend is BackendKind.LOCAL:
        if flags.url:
            raise ConfigError("--backend local and --url contradict each other")
        return BackendKind.LOCAL, None, "--backend local"
    if flags.backend is BackendKind.DATALOOP or flags.url:
        url = flags.url or environment.url or env.get(ENV_URL) or file.url or DEFAULT_API_URL
        return BackendKind.DATALOOP, url, "--url" if flags.url else "--backend dataloop"
    chosen = f"environment {env_name!r} in {PROJECT_FILE}"
    if environment.backend is BackendKind.LOCAL:
        return BackendKind.LOCAL, None, chosen
    if environment.backend is BackendKind.DATALOOP or environment.url:
        return BackendKind.DATALOOP, environment.url or env.get(ENV_URL) or file.url or DEFAULT_API_URL, chosen
    if env.get(ENV_URL):
        return BackendKind.DATALOOP, env[ENV_URL], ENV_URL
    if file.backend is BackendKind.LOCAL:
        return BackendKind.LOCAL, None, PROJECT_FILE
    if file.backend is BackendKind.DATALOOP or file.url:
        return BackendKind.DATALOOP, file.url or DEFAULT_API_URL, PROJECT_FILE
    return BackendKind.LOCAL, None, "default"


def _first(*candidates: tuple[Any, str]) -> tuple[Any, str | None]:
    for value, source in candidates:
        if value:
            return value, source
    return None, None


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"API URL {shown_url(url)!r} is not an http(s) URL (expected e.g. {DEFAULT_API_URL})")


def shown_url(url: str) -> str:
    """`url` as it may be printed: a `user:password@` in it becomes `***@`."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


def url_credentials(url: str | None) -> list[str]:
    """The user name and password a URL holds (`https://user:pw@host`), to be redacted."""
    parts = urlsplit(url or "")
    return [unquote(c) for c in (parts.password, parts.username) if c]
