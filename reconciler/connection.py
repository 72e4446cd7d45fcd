"""The CLI edge that turns backend flags into a connected `Backend`.

Every command that talks to a live Dataloop calls `add_backend_arguments(parser)` when building its
parser and `backend_from_args(args, term)` when running. The latter reads the environment and the
project file (see `reconciler.config` for the precedence and the safety rule), builds the one REST
client — over HTTP for a URL, or in-process over the embedded control plane's WSGI app, with the
timeout and retries of LOOPFORM_TIMEOUT / LOOPFORM_MAX_RETRIES — and says on stderr which backend
and project it talks to. The token is never printed.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.config import BackendKind, Environment, Flags, Settings, resolve_environment, resolve_settings, shown_url, url_credentials
from reconciler.project_paths import ENV_ENVIRONMENT, default_state_db
from reconciler.errors import ConfigError
from reconciler.interpolate import Context
from reconciler.redact import Redactor, install
from reconciler.terminal import Terminal

if TYPE_CHECKING:  # the client (and requests) is loaded when a command connects: `validate` never does
    from reconciler.client import ClientOptions, RestBackend
    from reconciler.document import Pipeline

EMBEDDED_URL = "http://loopform.local/api/v1"  # never resolved: the WSGI transport answers it
LOCAL_CONSOLE = "http://127.0.0.1:8765"  # where `loopform serve` listens by default
IN_MEMORY = ":memory:"  # SQLite's name for a database that lives only in this process


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """--env, --backend, --url, --project, --strict (flags beat LOOPFORM_* variables and loopform.yaml)."""
    from reconciler.client import ClientOptions

    defaults = ClientOptions()
    group = parser.add_argument_group(
        "backend", f"Network: LOOPFORM_TIMEOUT seconds to wait for an answer (default {defaults.read_timeout:g}), "
                   f"LOOPFORM_MAX_RETRIES retries of a failed request that is safe to repeat "
                   f"(default {defaults.attempts}).")
    group.add_argument("--env", dest="environment", default=None, metavar="NAME",
                       help=f"an environment from loopform.yaml: its backend, project and variables "
                            f"(env {ENV_ENVIRONMENT})")
    group.add_argument("--backend", choices=[k.value for k in BackendKind], default=None,
                       help="local: the embedded control plane in .loopform/ at the project root "
                            "(the folder of loopform.yaml, else of .git; the default); "
                            "dataloop: a REST API (--url, default the Dataloop gate)")
    group.add_argument("--url", default=None, metavar="URL",
                       help="API base URL, e.g. https://gate.dataloop.ai/api/v1 (env LOOPFORM_API_URL)")
    group.add_argument("--project", default=None, metavar="NAME",
                       help="default project for specs that name none (env LOOPFORM_PROJECT)")
    group.add_argument("--strict", action="store_true",
                       help="local only: unknown dataset/recipe/model/service names are errors "
                            "instead of being provisioned")


def flags_from_args(args: argparse.Namespace) -> Flags:
    backend = getattr(args, "backend", None)
    return Flags(
        backend=BackendKind(backend) if backend else None,
        url=getattr(args, "url", None),
        project=getattr(args, "project", None),
        strict=bool(getattr(args, "strict", False)),
        environment=getattr(args, "environment", None),
    )


def settings_from_args(args: argparse.Namespace, term: Terminal) -> Settings:
    """Resolve the settings, and from then on redact the environment's secrets from `term`'s
    output and from logs (so errors raised later are redacted too)."""
    settings = resolve_settings(flags_from_args(args), env=os.environ, cwd=Path.cwd(), home=Path.home())
    install(term, redactor_for(settings))
    return settings


def redactor_for(settings: Settings) -> Redactor:
    """Redacts the secret variables' values (and the API token and the credentials an API URL may
    hold, which must never be printed)."""
    secrets = [str(v.value) for v in settings.variables.values() if v.secret and v.value is not None]
    if settings.token:
        secrets.append(settings.token)
    secrets.extend(url_credentials(settings.url))
    return Redactor(secrets)


def hide_recorded_secrets(term: Terminal, doc: Pipeline) -> None:
    """Redact from `term` the values `doc` holds where its marker records a secret: after a
    rotation, the old value is there, and no reference names it any more (`secret_paths`)."""
    from reconciler.secret_paths import recorded_secrets  # loaded by commands that read pipelines

    found = recorded_secrets(doc)
    if found:
        install(term, Redactor(h.value for h in found))


def environment_from_args(args: argparse.Namespace, term: Terminal) -> Environment:
    """The selected environment (no backend is chosen or contacted, no token needed); from then
    on its secrets are redacted from `term`'s output and from logs."""
    environment = resolve_environment(flags_from_args(args), env=os.environ, cwd=Path.cwd())
    install(term, Redactor(environment.secrets().values()))
    return environment


def context_from_args(args: argparse.Namespace, term: Terminal) -> Context:
    """The `${var.*}`/`${env.*}` context for loading specs with the selected environment.

    Call it before loading specs; it installs redaction on `term` (see `environment_from_args`),
    and each `${env.NAME}` value is added to that redaction as soon as it is read (a spec error,
    log line or plan printed afterwards shows `(sensitive)`).
    """
    return environment_from_args(args, term).context(os.environ, on_sensitive=lambda value: install(
        term, Redactor([value])))


def backend_from_args(args: argparse.Namespace, term: Terminal, *,
                      writes: bool = True) -> tuple[RestBackend, str | None]:
    """The backend the flags/environment/project file select, and the default project name.

    `writes=False` (a command that only reads): a missing embedded database is not created, the
    command sees an empty control plane. Prints one line on stderr naming the backend (for the
    embedded default, its database's path) and project. The caller should `close()` the backend
    when done (it holds connections, and for the embedded default an SQLite database).
    """
    from reconciler.client import options_from_env

    settings = settings_from_args(args, term)
    backend = connect(settings, options=options_from_env(os.environ), create=writes,
                      on_pipeline=lambda doc: hide_recorded_secrets(term, doc))
    for note in settings.notes:
        term.eprint(f"note: {note}")
    project = settings.project or "(each spec's own)"
    environment = f"; environment: {settings.environment}" if settings.environment else ""
    selected = f" (selected by {settings.selected_by})" if settings.kind is BackendKind.DATALOOP else ""
    # The description stays the file's (a saved plan made before the first apply names it).
    fresh = ", not created yet (empty)" if _in_memory(backend) else ""
    term.eprint(f"Backend: {backend.description}{fresh}{selected}; project: {project}{environment}")
    return backend, settings.project


def connect(settings: Settings, *, options: ClientOptions | None = None, create: bool = True,
            on_pipeline: Callable[[Pipeline], None] | None = None) -> RestBackend:
    """A RestBackend for resolved settings (the embedded control plane is opened here; see
    `open_embedded` for `create`). `on_pipeline` sees every pipeline document read."""
    from reconciler.client import ApiSession, RestBackend
    from reconciler.client.rest import fetch_server_info

    if settings.kind is BackendKind.DATALOOP:
        assert settings.url is not None
        session = ApiSession(settings.url, settings.token, options=options)
        info = fetch_server_info(session)
        label, console_url = f"Dataloop API {shown_url(settings.url)}", settings.console_url
        if info is not None:
            # `loopform serve` (it answers /loopform/info): say so, not "Dataloop API".
            label = f"local control plane at {shown_url(settings.url)} ({'strict' if info.strict else 'sandbox'})"
            # The console links point at the server itself, unless settings name a console.
            console_url = console_url or shown_url(settings.url).removesuffix("/api/v1")
        return RestBackend(session, label=label, console_url=console_url, on_pipeline=on_pipeline,
                           server_info=info)
    return open_embedded(settings.state_db or default_state_db(Path.cwd()), strict=settings.strict,
                         project=settings.project, options=options, create=create, on_pipeline=on_pipeline)


def open_embedded(db_path: Path, *, strict: bool = False, project: str | None = None,
                  options: ClientOptions | None = None, create: bool = True,
                  on_pipeline: Callable[[Pipeline], None] | None = None) -> RestBackend:
    """The embedded local control plane at `db_path`, reached in-process through WsgiTransport.

    `create=False` leaves a missing database missing: the control plane is then an empty one in
    memory (what a fresh database would hold), so reading commands never leave files behind.
    """
    from reconciler.client import ApiSession, RestBackend, WsgiTransport
    from reconciler.server import ControlPlane  # the server is only loaded when it is used

    exists = db_path.exists()
    if create:
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # it holds the token secret
        except OSError as exc:
            raise ConfigError(f"cannot create {db_path.parent} for the local state ({exc.strerror})") from exc
    kwargs = {"default_project": project} if project else {}
    control_plane = ControlPlane(db_path if create or exists else Path(IN_MEMORY), strict=strict, **kwargs)
    session = ApiSession(EMBEDDED_URL, control_plane.mint_token(), options=options,
                         transport=WsgiTransport(control_plane.wsgi_app))
    mode = "strict" if strict else "sandbox"
    label = f"local control plane {_display(db_path)} ({mode})"
    return RestBackend(session, label=label, console_url=LOCAL_CONSOLE, on_close=control_plane.close,
                       control_plane=control_plane, on_pipeline=on_pipeline)


def _in_memory(backend: RestBackend) -> bool:
    plane = backend.control_plane
    return plane is not None and plane.db_path == Path(IN_MEMORY)


def _display(path: Path) -> str:
    # Relative when below the working directory, else absolute (run from a subdirectory, the
    # database at the project root is above it).
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path.absolute())


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """NAME plus the backend flags: the shape of every imperative command."""
    parser.add_argument("name", metavar="NAME", help="pipeline name (in --project)")
    add_backend_arguments(parser)
