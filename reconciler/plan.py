"""The plan: the complete, serialisable contract between `plan` and `apply`.

A `Plan` holds one `PipelineChange` per pipeline that a spec names (plus, with `--prune`, managed
pipelines that lost their spec). Apply executes each `PipelineChange.actions` in order and never
re-decides:

    create  POST `desired`                      update  PATCH `desired` (the whole document)
    resume  install (after create/update)       pause   uninstall
    reset   reset the pipeline's cycles         delete  DELETE `pipeline_id`
    no-op   nothing (listed so the plan says the pipeline was looked at)

`diff.diff_pipeline` emits actions in this order: `create` first; else `pause`, `reset`, `update`, then
`resume` last (pause before editing so no cycle runs on a half-written pipeline; reset before the
update that records the new resetToken in the marker, so a crash between them repeats the reset
rather than losing it; install last so the installed composition is the new document).

`changes` is what the user sees (before -> after per field); `reason` is display text only and must
never drive a decision in apply (terraform's rule for `ActionReason`). Provisions with
`provision=True` (local control plane only) are created by apply before the first write.

The JSON form (`Plan.to_json()`, `loopform plan --json`, `-out FILE`) is versioned by
`format_version`; field names here are a public format: add fields, never rename or remove.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from reconciler.backend import Resolved
from reconciler.document import Pipeline

FORMAT_VERSION = 1


class Action(str, Enum):
    """The closed set of things apply can do to one pipeline."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    PAUSE = "pause"
    RESUME = "resume"
    RESET = "reset"
    NO_OP = "no-op"


STATUS_ACTIONS = frozenset({Action.PAUSE, Action.RESUME, Action.RESET})
# The action sequences a plan may hold (see the module docstring for why this order):
#   create[,resume] | [pause][,reset][,update][,resume] | delete | no-op
_WHOLE_SEQUENCES = ((Action.CREATE,), (Action.CREATE, Action.RESUME), (Action.DELETE,), (Action.NO_OP,))
_EDIT_ORDER = (Action.PAUSE, Action.RESET, Action.UPDATE, Action.RESUME)


def invalid_actions(actions: Iterable[Action]) -> str | None:
    """None when `actions` is a sequence of the plan grammar
    `create[,resume] | [pause][,reset][,update][,resume] | delete | no-op`; else the sequence, as
    text for a message. Checked when a saved plan is read: apply executes actions as they come."""
    seq = tuple(actions)
    if seq in _WHOLE_SEQUENCES:
        return None
    positions = [_EDIT_ORDER.index(a) if a in _EDIT_ORDER else -1 for a in seq]
    if -1 not in positions and all(a < b for a, b in zip(positions, positions[1:])):
        return None
    return ",".join(a.value for a in seq)
# Change paths that are not edits of the pipeline itself: an update carrying only these (recording
# a new resetToken in the marker, refreshing the marker) is counted as a status change, not as an
# update, so the summary line says what the user changed.
BOOKKEEPING_PATHS = frozenset({"resetToken", "marker", "managedBy", "status"})


def is_bookkeeping(path: str) -> bool:
    """`BOOKKEEPING_PATHS`, and `marker.<field>` (one field of the marker refreshed)."""
    return path in BOOKKEEPING_PATHS or path.startswith("marker.")


# The one vocabulary for the steps of a pipeline: the plan's header, apply's result lines and
# `status` say the same word for the same step. Installing a pipeline just created is the same API
# call as resuming a paused one, but the user knows it as "install".
STEP_WORDS = {"create": "create", "update": "update", "delete": "delete", "pause": "pause",
              "resume": "resume", "reset": "reset"}


def step_words(steps: Iterable[str], *, before: Iterable[str] = ()) -> list[str]:
    """Action or apply step values in execution order -> the words shown for them (steps with no
    word, such as provisioning and marker bookkeeping, are left out). `before`: the steps that
    came first (their words are not returned; they decide "install" vs "resume")."""
    out: list[str] = []
    created = "create" in list(before)
    for step in steps:
        word = STEP_WORDS.get(step)
        if word is None:
            continue
        if step == "create":
            created = True
        out.append("install" if step == "resume" and created else word)
    return out


def steps_text(steps: Iterable[str], *, before: Iterable[str] = ()) -> str:
    return ", then ".join(step_words(steps, before=list(before)))


class ChangeOp(str, Enum):
    """How one field moved: it appeared, disappeared, or changed value."""

    ADD = "add"
    REMOVE = "remove"
    CHANGE = "change"
    RENAME = "rename"  # a node's spec key, its id kept: before/after are `nodes.<old>` / `nodes.<new>`


class ChangeKind(str, Enum):
    """What happened at a change's address, for renderers (they never parse `path`)."""

    VALUE = "value"  # a value changed in place
    REWIRE = "rewire"  # a connection from one source port (and action) now goes to another target
    ADD = "add"  # the addressed entry appeared
    REMOVE = "remove"  # the addressed entry disappeared
    RENAME = "rename"  # a node's spec key changed, its id kept


_KIND_OF_OP = {ChangeOp.ADD: ChangeKind.ADD, ChangeOp.REMOVE: ChangeKind.REMOVE, ChangeOp.RENAME: ChangeKind.RENAME}


def kind_of(op: ChangeOp) -> ChangeKind:
    """The kind a change of `op` has, unless it is a rewire (which only the diff knows)."""
    return _KIND_OF_OP.get(op, ChangeKind.VALUE)


def change_address(path: str, op: ChangeOp) -> tuple[str, str | None, str | None, ChangeKind]:
    """(section, key, field, kind) of a rendered change path.

    Only for plans saved before changes carried their address (and for a change built from a
    path alone): the diff gives each change its address when it makes it. Exact for every path
    the diff writes: node keys, port names and variable names contain no dots, and a connection's
    key is `<node>.<port>[<action>] -> <node>.<port>` (or, rewired, its source end alone)."""
    section, _, rest = path.partition(".")
    if not rest:
        key, field = None, None
    elif section == "connections" and " -> " in rest:
        src, _, tgt = rest.partition(" -> ")
        parts = tgt.split(".", 2)
        key = f"{src} -> {'.'.join(parts[:2])}"
        field = parts[2] if len(parts) > 2 else None
    elif section == "connections":
        key, field = rest, None
    else:
        key, _, sub = rest.partition(".")
        field = sub or None
    kind = kind_of(op)
    if section == "connections" and key is not None and " -> " not in key and op is ChangeOp.CHANGE:
        kind = ChangeKind.REWIRE
    return section, key, field, kind


def render_path(section: str, key: str | None = None, field: str | None = None) -> str:
    """The dotted path of an address (`nodes.review.task.priority`)."""
    return ".".join(part for part in (section, key, field) if part)


class PlatformChange(BaseModel):
    """One difference in the API document's own terms (essence paths keyed by spec node key, e.g.
    `nodes.label.metadata.recipeId`): what a `FieldChange` in spec terms stands for."""

    model_config = ConfigDict(frozen=True)

    path: str
    before: Any = None
    after: Any = None
    op: ChangeOp = ChangeOp.CHANGE

    @classmethod
    def of(cls, change: FieldChange) -> PlatformChange:
        return cls(path=change.path, before=change.before, after=change.after, op=change.op)


class FieldChange(BaseModel):
    """One user-visible difference, addressed by a path in spec terms.

    Paths use node keys and spec vocabulary, dot-separated, e.g. `nodes.label-a.task.recipe`,
    `nodes.videos.trigger.event.filter`, `connections.label-a.item[complete] -> review.item`,
    `variables.threshold.value`, `metadata.description`, `status`, `resetToken`. Values are spec
    values too (`priority: "high"`, a dataset or recipe by name; an id only where no name is
    known). What the spec has no field for keeps its raw platform key under the node's
    `namespace` / `metadata` / `config` (as a spec would set it).
    `before`/`after` are JSON values (None when the side is absent; `op` says which side is).
    `drift` is True when live differs from what Loopform last applied (the marker's digest), i.e.
    someone edited the pipeline outside Loopform and this change would undo that edit.
    `platform` lists the API-document differences this change stands for (e.g. `metadata.recipeId`
    and `metadata.recipeTitle` behind `task.recipe`); None when path and values are already those.

    The address, for renderers and other readers that must not parse `path`: `section` (`nodes`,
    `connections`, `variables`, `settings`, `metadata`, `triggers`, `marker`, or a pipeline field
    such as `status`), `key` (the node key, connection, variable... within it; None for a pipeline
    field), `field` (the dotted field within that entry; None for the entry as a whole) and `kind`.
    `path` is their rendering. Added to the JSON form after format 1 was published: a saved plan
    without them gets them from `change_address` when read.
    """

    model_config = ConfigDict(frozen=True)

    path: str
    before: Any = None
    after: Any = None
    drift: bool = False
    op: ChangeOp = ChangeOp.CHANGE
    platform: list[PlatformChange] | None = None
    section: str = ""
    key: str | None = None
    field: str | None = None
    kind: ChangeKind = ChangeKind.VALUE

    @model_validator(mode="before")
    @classmethod
    def _addressed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "section" not in data and isinstance(data.get("path"), str):
            op = ChangeOp(data.get("op", ChangeOp.CHANGE))
            section, key, field, kind = change_address(data["path"], op)
            data = {**data, "section": section, "key": key, "field": field, "kind": kind}
        return data

    @classmethod
    def at(cls, section: str, key: str | None = None, field: str | None = None, *,
           op: ChangeOp = ChangeOp.CHANGE, kind: ChangeKind | None = None, **values: Any) -> FieldChange:
        """A change at an address (the path rendered from it); `kind` defaults to what `op` says."""
        return cls(path=render_path(section, key, field), op=op, section=section, key=key, field=field,
                   kind=kind if kind is not None else kind_of(op), **values)


class PipelineChange(BaseModel):
    """Everything apply needs to converge one pipeline, and everything render shows about it."""

    model_config = ConfigDict(frozen=True)

    project: str
    project_id: str
    name: str
    pipeline_id: str | None = None  # None only when the pipeline does not exist yet
    actions: list[Action] = Field(default_factory=list)  # execution order
    desired: Pipeline | None = None  # the full document for create/update; None for delete/no-op
    changes: list[FieldChange] = Field(default_factory=list)
    provisions: list[Resolved] = Field(default_factory=list)
    reset_token: str | None = None  # the spec's token; already inside `desired`'s marker
    live_fingerprint: str | None = None  # `normalize.fingerprint(live)` when the plan was made
    reason: str = ""  # display only
    spec_path: str | None = None

    @field_serializer("desired")
    def _desired_as_wire(self, desired: Pipeline | None) -> dict[str, Any] | None:
        # The wire form (no null fields) is what apply sends; dumping pydantic defaults would
        # add dozens of nulls per node to saved plans and to the JSON output.
        return desired.wire() if desired is not None else None

    @property
    def has_changes(self) -> bool:
        return any(a is not Action.NO_OP for a in self.actions)

    @property
    def primary(self) -> Action:
        """The action the pipeline is listed under: create/delete/update win over status moves."""
        for action in (Action.CREATE, Action.DELETE, Action.UPDATE):
            if action in self.actions:
                return action
        for action in self.actions:
            if action is not Action.NO_OP:
                return action
        return Action.NO_OP


class PlanCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    create: int = 0
    update: int = 0
    delete: int = 0
    status: int = 0  # pause / resume / reset on pipelines that are not being created or deleted


class Plan(BaseModel):
    """A whole plan. `pipelines` is sorted by (project, name) so output is deterministic."""

    model_config = ConfigDict(frozen=True)

    format_version: Literal[1] = 1
    created_at: str = ""  # ISO-8601, stamped by the planner (the core reads no clock)
    backend: str = ""
    spec_digests: dict[str, str] = Field(default_factory=dict)
    # The spec paths the plan was made from, as given (files, directories): `apply FILE` plans them
    # again and applies the saved plan only if it writes exactly that (see reconciler.planfile).
    paths: list[str] = Field(default_factory=list)
    pipelines: list[PipelineChange] = Field(default_factory=list)
    # The spec set the plan speaks for (reconciler.spec_set): apply re-checks a delete against it.
    spec_set: str | None = None
    # Managed pipelines of this spec set, given files, that no spec names: what `--prune` would
    # delete (empty with --prune: they are in `pipelines` as deletes). "project/name".
    prunable: list[str] = Field(default_factory=list)
    # With --prune: managed pipelines of this spec set applied from files the command was not
    # given, which it leaves alone.
    outside_scope: list[str] = Field(default_factory=list)

    @classmethod
    def build(
        cls,
        pipelines: Iterable[PipelineChange],
        *,
        backend: str,
        spec_digests: dict[str, str],
        created_at: str | None = None,
        spec_set: str | None = None,
        prunable: Iterable[str] = (),
        outside_scope: Iterable[str] = (),
    ) -> Plan:
        """A plan with pipelines in their canonical (project, name) order."""
        ordered = sorted(pipelines, key=lambda p: (p.project, p.name))
        plan = cls(backend=backend, spec_digests=dict(sorted(spec_digests.items())), pipelines=ordered,
                   spec_set=spec_set, prunable=sorted(prunable), outside_scope=sorted(outside_scope))
        return plan if created_at is None else plan.model_copy(update={"created_at": created_at})

    @property
    def has_changes(self) -> bool:
        return any(p.has_changes for p in self.pipelines)

    def counts(self) -> PlanCounts:
        create = update = delete = status = 0
        for p in self.pipelines:
            if Action.CREATE in p.actions:
                create += 1
            elif Action.DELETE in p.actions:
                delete += 1
            else:
                moves = sum(1 for a in p.actions if a in STATUS_ACTIONS)
                # An update carrying only bookkeeping rides with a status move it records; alone,
                # it is still a write, and the summary must not say "0" of a plan that changes.
                if Action.UPDATE in p.actions and (
                        not moves or any(not is_bookkeeping(c.path) for c in p.changes)):
                    update += 1
                status += moves
        return PlanCounts(create=create, update=update, delete=delete, status=status)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The documented JSON form (also the saved-plan file format)."""
        return self.model_dump_json(indent=indent, by_alias=True, exclude_none=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Plan:
        """Parse a saved plan. Raises pydantic.ValidationError on a malformed or foreign file."""
        return cls.model_validate_json(text)
