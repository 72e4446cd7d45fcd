"""Loopform's one exception tree.

    LoopformError                    anything Loopform itself reports (exit 1)
    ├── SpecError                    a located problem in a spec file (path, line, col, pointer)
    │   └── SpecErrors               several SpecErrors reported together
    ├── ConfigError                  flags / environment / project file do not make sense
    ├── PlanError                    a plan cannot be made or used (stale saved plan, unknown name...)
    ├── ApplyError                   apply finished with failed pipelines
    ├── UserAbort                    the user declined, or no TTY to ask on
    └── ApiError                     the backend answered with an error (status, server message)
        ├── ClientError              4xx
        │   ├── Unauthorized         401 / 403
        │   ├── NotFound             404
        │   ├── Conflict             409
        │   └── RateLimited          429 (retry_after seconds, when the server said)
        ├── ServerError              5xx
        └── TransportError           no answer: connection refused / reset, timeout
            ├── Unreachable          nobody at the address (refused, unknown host): nothing was sent
            └── AmbiguousWrite       a non-idempotent write whose outcome is unknown

The CLI maps these to exit codes in one place (`exit_code_for`); nothing else calls sys.exit.
Third-party exceptions (requests, yaml, sqlite3) never cross a module boundary: wrap them with
`raise ... from`.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2  # only with `plan --detailed-exitcode`
EXIT_INTERNAL = 3  # a bug in Loopform: an unexpected exception
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report it
EXIT_BROKEN_PIPE = 141  # the reader of our output went away: 128 + SIGPIPE


class LoopformError(Exception):
    """Base of every error Loopform reports to the user on purpose."""

    exit_code: int = EXIT_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Location:
    """Where in a file a problem is. Lines and columns are 1-based, as editors show them."""

    path: str
    line: int = 1
    col: int = 1
    pointer: str = ""  # JSON pointer of the offending key, e.g. /spec/nodes/label-a/task/recipe
    # For a line of a module file: the use that brought it into the spec being checked (named in
    # the message, since the same module line may be reached from many pipelines).
    via: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


class SpecError(LoopformError):
    """A problem in a spec file, at a location."""

    def __init__(self, message: str, location: Location, *, severity: str = "error") -> None:
        if location.via and location.via not in message:
            message = f"{message} (in the module used by {location.via})"
        super().__init__(message)
        self.location = location
        self.severity = severity  # "error" | "warning"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.location}: {prefix}{self.message}"


class SpecErrors(LoopformError):
    """Many located errors found in one run; raised so that all are reported at once."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class ConfigError(LoopformError):
    """Flags, environment or the project file are inconsistent or incomplete."""


class PlanError(LoopformError):
    """A plan cannot be computed or used (for example a saved plan gone stale)."""


class ApplyError(LoopformError):
    """Apply ran, and at least one pipeline failed; the per-pipeline results say which."""


class UserAbort(LoopformError):
    """The user said no, or there was no terminal to ask on and no --auto-approve."""


class ApiError(LoopformError):
    """The backend answered with an error, or did not answer."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        where = f"{method} {path}".strip()
        text = f"{where}: {message}" if where else message
        if status is not None:
            text = f"{text} (HTTP {status})"
        super().__init__(text)
        self.server_message = message
        self.status = status
        self.method = method
        self.path = path


class ClientError(ApiError):
    """4xx: the request was wrong; retrying the same request will not help."""


class Unauthorized(ClientError):
    """401 / 403: missing, expired or insufficient credentials."""


class NotFound(ClientError):
    """404."""


class Conflict(ClientError):
    """409: the resource exists already or changed under us."""


class RateLimited(ClientError):
    """429: too many requests; `retry_after` is the server's hint in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: the server failed; an idempotent request may be retried."""


class TransportError(ApiError):
    """No usable answer: connection refused or reset, timeout, malformed response."""


class Unreachable(TransportError):
    """Nobody answers at the API's address (connection refused, unknown host): the request was
    never sent, so even a create certainly did not happen."""


class AmbiguousWrite(TransportError):
    """A non-idempotent write (POST create) may or may not have happened on the server."""


def error_for_status(status: int) -> type[ApiError]:
    """The exception class for an HTTP error status."""
    if status in (401, 403):
        return Unauthorized
    if status == 404:
        return NotFound
    if status == 409:
        return Conflict
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    return ClientError


def exit_code_for(exc: BaseException) -> int:
    """The one place that maps errors to exit codes."""
    if isinstance(exc, LoopformError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        return EXIT_BROKEN_PIPE
    return EXIT_INTERNAL
