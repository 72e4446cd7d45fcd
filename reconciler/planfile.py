"""Saved plans (terraform's `plans/planfile`): written with secrets redacted, read back with them
restored and the plan validated, and checked for staleness. The one place that knows the file.

    write(plan, path, secrets=..., hidden=...)     `loopform plan -out FILE`
    read(path, secret=...) -> Plan                 `loopform apply FILE` (secrets restored), `show`
    stale_reasons(plan, backend, context=...)      what moved since the plan was made

A saved plan is the plan's JSON form (`Plan.to_json`) with each secret value written as
`(sensitive:NAME)` (NAME a secret variable, or `env.X` for the environment variable X): apply
puts the current value back, so a plan file can be kept as a CI artifact. A value no name gives
(a rotated secret's old value, which live still holds) is written `(sensitive)`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from pathlib import Path

from pydantic import ValidationError

from reconciler.backend import Backend
from reconciler.errors import ConfigError, NotFound, PlanError
from reconciler.interpolate import Context
from reconciler.normalize import fingerprint
from reconciler.plan import Plan, invalid_actions
from reconciler.redact import SENSITIVE, forms
from reconciler.sensitive import MIN_SECRET
from reconciler.spec.loader import load

_SAVED = re.compile(r"\(sensitive:([A-Za-z_][A-Za-z0-9_.-]*)\)")


def write(plan: Plan, path: str | Path, *, secrets: Mapping[str, str] | None = None,
          hidden: Iterable[str] = ()) -> None:
    """Save `plan`; secret values (name -> value) become `(sensitive:NAME)`, and each of `hidden`
    (values no name gives: a rotated secret's old value) `(sensitive)`.

    Raises PlanError when a document apply would send holds one of `hidden`: apply cannot put it
    back, so the saved plan would either show it or send `(sensitive)` in its place. (Live decides
    what is hidden: a project member who writes a common word where a secret sat must not be able
    to make a saved plan rewrite that word in every pipeline it applies.) ConfigError when the file
    cannot be written."""
    secrets = secrets or {}
    hidden = list(hidden)
    for p in plan.pipelines:
        if p.desired is not None:
            sent = redact(json.dumps(p.desired.wire(), ensure_ascii=False), secrets)
            if redact(sent, {}, hidden=hidden) != sent:
                raise PlanError(f"cannot save the plan: what apply would send to {p.project}/{p.name} holds a "
                                "value that live holds where a secret sat (or the API token); apply without a "
                                "saved plan, or change that value")
    try:
        Path(path).write_text(redact(plan.to_json(), secrets, hidden=hidden) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the plan to {path}: {exc.strerror}") from exc


def read(path: str | Path, *, secret: Callable[[str], str | None] | None = None) -> Plan:
    """The saved plan at `path`, validated: the JSON form of format_version 1, and each pipeline's
    actions in the grammar apply follows (`plan.invalid_actions`).

    With `secret` (`interpolate.Context.secret`), each `(sensitive:NAME)` is restored for apply;
    without, the placeholders stay (what `show` renders). Raises ConfigError when the file cannot
    be read, PlanError when it is not a plan or needs a secret the environment lacks."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the plan {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise PlanError(f"{path}: not a loopform plan file (made by `loopform plan -out FILE`): it is not "
                        "a Loopform plan: not UTF-8 text") from None
    if secret is not None:
        text = restore(text, secret)
    try:
        plan = Plan.from_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise PlanError(f"{path}: not a loopform plan file (made by `loopform plan -out FILE`): it is not a "
                        f"Loopform plan of format_version 1 at {where}: {first['msg']}") from None
    for p in plan.pipelines:
        wrong = invalid_actions(p.actions)
        if wrong is not None:
            raise PlanError(f"{path}: the actions of {p.project}/{p.name} are not a plan's: {wrong}")
    return plan


def stale_reasons(plan: Plan, backend: Backend | None, *, context: Context | None = None) -> list[str]:
    """Why a saved plan no longer describes the world (empty: still valid).

    Specs: each recorded spec file must still exist with the same digest. Live: with a backend,
    each pipeline the plan read must have the same fingerprint, and each pipeline it creates must
    still be absent. Used by `loopform show` (a warning) and `loopform apply FILE` (a refusal).
    `context` fills `${...}` in the specs as when the plan was made (a spec's digest covers them).
    """
    reasons: list[str] = []
    for path, digest in sorted(plan.spec_digests.items()):
        result = load([Path(path)], context=context)
        now = next((sf.digest for sf in result.specs if str(sf.path) == path), None)
        if now is None and result.specs:
            now = result.specs[0].digest
        if now is None:
            reasons.append(f"spec {path} can no longer be read")
        elif now != digest:
            reasons.append(f"spec {path} changed since the plan was made")
    if backend is None:
        return reasons
    if plan.backend and backend.description != plan.backend:
        reasons.append(f"the plan was made against {plan.backend}, not {backend.description}")
        return reasons
    for p in plan.pipelines:
        if p.pipeline_id is None:
            if backend.find_pipeline(p.project_id, p.name) is not None:
                reasons.append(f"pipeline {p.project}/{p.name} was created since the plan was made")
            continue
        try:
            live = backend.get_pipeline(p.pipeline_id)
        except NotFound:
            reasons.append(f"pipeline {p.project}/{p.name} was deleted since the plan was made")
            continue
        if p.live_fingerprint is not None and fingerprint(live) != p.live_fingerprint:
            reasons.append(f"pipeline {p.project}/{p.name} changed since the plan was made")
    return reasons


def not_planned_now(saved: Plan, fresh: Plan) -> list[str]:
    """The pipelines ("project/name") that `saved` would write differently from `fresh`, the plan its
    paths give now against the same live state: what each sends (actions, document, provisions) must
    be the same. A saved plan is data from wherever it was made (the GitOps kit carries it from the
    pull request's own run, which runs that pull request's workflow): its digests say which specs it
    was made from, not that it holds what they compile to."""
    def sends(plan: Plan) -> dict[tuple[str, str], Any]:
        return {(p.project, p.name): p.model_dump(mode="json", include={"actions", "desired", "provisions",
                                                                         "pipeline_id", "project_id"})
                for p in plan.pipelines if p.has_changes}

    before, now = sends(saved), sends(fresh)
    return [f"{project}/{name}" for project, name in sorted(before.keys() | now.keys())
            if before.get((project, name)) != now.get((project, name))]


def redact(text: str, secrets: Mapping[str, str], *, hidden: Iterable[str] = ()) -> str:
    """A saved plan's text with each secret value (name -> value) as `(sensitive:NAME)`, then
    each of `hidden` that is left as `(sensitive)` (apply cannot put those back: they are what
    live held, such as a rotated secret's old value, never what a spec sends).

    Whole values only: a saved plan is never cut short, and `Redactor`'s rule for cut values
    would change text that apply sends."""
    for name, value in sorted(secrets.items(), key=lambda kv: len(kv[1]), reverse=True):
        if value:
            for form in forms(value):
                text = text.replace(form, f"(sensitive:{name})")
    for value in sorted({v for v in hidden if len(v) >= MIN_SECRET}, key=len, reverse=True):
        for form in forms(value):
            text = text.replace(form, SENSITIVE)
    return text


def restore(text: str, secret: Callable[[str], str | None]) -> str:
    """The inverse of `redact`: `secret(NAME)` gives the current value of each
    `(sensitive:NAME)` (`interpolate.Context.secret`; `env.X` is the environment variable X).

    Raises PlanError when the plan needs a secret the current environment does not have.
    """
    def put_back(match: re.Match[str]) -> str:
        name = match.group(1)
        value = secret(name)
        env_name = name[4:] if name.startswith("env.") else None
        if value is None and env_name is not None:
            raise PlanError(f"the saved plan needs the environment variable {env_name} (the specs use "
                            f"${{env.{env_name}}}), which is not set; apply with the same environment as the plan")
        if value is None:
            raise PlanError(f"the saved plan needs the secret variable {name!r}, which the selected "
                            "environment does not define (apply with the same --env as the plan)")
        if len(value) < MIN_SECRET:  # it would be printed in clear: refuse, as loading a spec does
            raise PlanError(f"the saved plan needs {name!r}, whose value is now shorter than {MIN_SECRET} "
                            "characters and cannot be kept out of the output")
        return json.dumps(value, ensure_ascii=False)[1:-1]  # the plan is JSON text

    return _SAVED.sub(put_back, text)
