"""Desired vs live pipeline -> the ordered actions and the user-visible changes.

Pure apart from the injected name lookup. Works on essences (see `normalize`): the unchanged path
is a handful of native `==` on plain dicts; only sections that differ are walked field by field,
each difference made at its address (`leafdiff.DiffItem`: section, key, field, kind), and those
differences are then put in spec terms (`spec_terms`: `nodes.<key>.task.recipe`,
`nodes.<key>.trigger.event.filter`, `connections.a.item -> b.item.filter`, ...).
Iteration is over sorted key sets (only desired -> add, only live -> remove, both -> compare), so
output order is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reconciler.document import RUNNING_STATUSES, STATUS_INSTALLED, STATUS_UNINSTALLED, Pipeline
from reconciler.marker import Marker, read_marker
from reconciler.normalize import Essence, essence, node_keys, section_digests
from reconciler.leafdiff import DiffItem, leaf_changes
from reconciler.plan import Action, ChangeKind, ChangeOp, FieldChange, PlatformChange
from reconciler.spec_terms import NameLookup, display_rank, in_spec_terms, spec_status

DesiredStatus = Literal["installed", "paused"]


class PipelineDiff(BaseModel):
    """What `diff_pipeline` found: actions in execution order, changes in display order."""

    model_config = ConfigDict(frozen=True)

    actions: list[Action] = Field(default_factory=list)
    changes: list[FieldChange] = Field(default_factory=list)
    reason: str = ""


def _keyed_changes(section: str, before: Mapping[str, Any], after: Mapping[str, Any],
                   *, walk: bool = True) -> Iterator[DiffItem]:
    """The changes of one keyed section (`nodes`, `variables`...: key -> value), compared on key
    sets in sorted order: a key only `after` has is added, one only `before` has removed, and a key
    both have is walked down to its changed leaves (`walk`) or shown whole when it differs.
    `section` "" is the pipeline's own fields: each key is then a section of its own (`name`)."""
    for key in sorted(before.keys() | after.keys()):
        where: tuple[str, str | None] = (section, key) if section else (key, None)
        if key not in before:
            yield DiffItem.at(*where, None, ChangeOp.ADD, None, after[key])
        elif key not in after:
            yield DiffItem.at(*where, None, ChangeOp.REMOVE, before[key], None)
        elif walk:
            yield from leaf_changes(*where, before[key], after[key])
        elif before[key] != after[key]:
            yield DiffItem.at(*where, None, ChangeOp.CHANGE, before[key], after[key])


def _connection_source(ident: str) -> tuple[str, str]:
    src, _, tgt = ident.partition(" -> ")
    return src, tgt


def _connection_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> Iterator[DiffItem]:
    """Added / removed / filter changed, and *rewired*: one connection from a source port (and
    action) replaced by one to another target is shown as that, not as a remove plus an add.
    A rewire is addressed by its source end; its values are `-> <old target>` / `-> <new target>`."""
    removed = sorted(before.keys() - after.keys())
    added = sorted(after.keys() - before.keys())
    by_src_removed: dict[str, list[str]] = {}
    by_src_added: dict[str, list[str]] = {}
    for ident in removed:
        by_src_removed.setdefault(_connection_source(ident)[0], []).append(ident)
    for ident in added:
        by_src_added.setdefault(_connection_source(ident)[0], []).append(ident)
    rewired = {src for src in by_src_removed
               if len(by_src_removed[src]) == 1 and len(by_src_added.get(src, ())) == 1}
    out: list[DiffItem] = []
    for src in rewired:
        old, new = by_src_removed[src][0], by_src_added[src][0]
        out.append(DiffItem.at("connections", src, None, ChangeOp.CHANGE, f"-> {_connection_source(old)[1]}",
                               f"-> {_connection_source(new)[1]}", ChangeKind.REWIRE))
        out.extend(leaf_changes("connections", new, before[old], after[new]))
    for ident in removed:
        if _connection_source(ident)[0] not in rewired:
            out.append(DiffItem.at("connections", ident, None, ChangeOp.REMOVE, before[ident], None))
    for ident in added:
        if _connection_source(ident)[0] not in rewired:
            out.append(DiffItem.at("connections", ident, None, ChangeOp.ADD, None, after[ident]))
    for ident in sorted(before.keys() & after.keys()):
        out.extend(leaf_changes("connections", ident, before[ident], after[ident]))
    yield from sorted(out, key=lambda c: c.path)


def _section_of(item: DiffItem) -> str:
    """The marker's digest section (`normalize.section_digests`) a difference falls in."""
    if item.section == "nodes":
        return f"nodes.{item.key}"
    if item.section in ("root", "triggers"):
        return "startNodes"
    return {"name": "fields", "description": "fields"}.get(item.section, item.section)


def essence_changes(live: Essence, desired: Essence) -> list[DiffItem]:
    """All differences live -> desired, in display order (pipeline fields, nodes, connections,
    start nodes, variables, settings). Settings compare only keys the desired side sets: the
    server fills the rest with its defaults."""
    out: list[DiffItem] = []
    out.extend(_keyed_changes("", live.fields, desired.fields, walk=False))
    if live.nodes != desired.nodes:
        out.extend(_keyed_changes("nodes", live.nodes, desired.nodes))
    if live.connections != desired.connections:
        out.extend(_connection_changes(live.connections, desired.connections))
    if live.root != desired.root:
        op = ChangeOp.ADD if live.root is None else ChangeOp.REMOVE if desired.root is None else ChangeOp.CHANGE
        out.append(DiffItem.at("root", None, None, op, live.root, desired.root))
    if live.triggers != desired.triggers:
        for item in _keyed_changes("triggers", live.triggers, desired.triggers, walk=False):
            if item.op is ChangeOp.CHANGE and item.before.get("type") == item.after.get("type"):
                # same kind: show the fields that moved
                out.extend(leaf_changes("triggers", item.key, item.before, item.after))
            else:
                out.append(item)  # event <-> cron: show both whole
    if live.variables != desired.variables:
        out.extend(_keyed_changes("variables", live.variables, desired.variables))
    live_settings = {k: v for k, v in live.settings.items() if k in desired.settings}
    if live_settings != desired.settings:
        out.extend(_keyed_changes("settings", live_settings, desired.settings, walk=False))
    return out


def is_running(status: str | None) -> bool:
    return status in RUNNING_STATUSES


def _status_actions(live_status: str | None, desired: DesiredStatus,
                    marker: Marker | None = None) -> tuple[list[Action], list[FieldChange]]:
    running = is_running(live_status)
    if desired == "installed" and not running:
        action, platform = Action.RESUME, STATUS_INSTALLED
    elif desired == "paused" and running:
        action, platform = Action.PAUSE, STATUS_UNINSTALLED
    else:
        return [], []
    # Shown as the spec says it (`installed` / `paused`); the platform's words stay in `platform`.
    raw = PlatformChange(path="status", before=live_status, after=platform)
    return [action], [FieldChange.at("status", before=spec_status(live_status), after=desired, platform=[raw],
                                     drift=marker is not None and _status_drifted(live_status, marker))]


def _status_drifted(live_status: str | None, marker: Marker) -> bool:
    """The live status is not the one Loopform applied (a pause or resume through dtlpy or REST)."""
    return marker.status is not None and is_running(live_status) != (marker.status == "installed")


def applied_drift(live: Pipeline, marker: Marker, *, owned: frozenset[str] = frozenset()) -> set[str]:
    """The sections of `live` (`fields`, `nodes.<key>`, `connections`, ...) that differ from what
    Loopform last applied, named with that apply's node keys; `status` when the live status is not
    the applied one.

    Drift means only this: live moved since the apply. So the live essence is taken in the terms
    the marker's digests were computed in (that apply's key map and owned cosmetic paths), never
    the current spec's: removing or renaming a node in the spec is a spec change, not drift.
    `owned` stands in for a marker written before the owned paths were recorded.
    """
    drifted: set[str] = set()
    if marker.sections:
        applied_keys = node_keys(live, marker.node_key_by_id())
        applied_owned = frozenset(marker.owned) if marker.owned is not None else owned
        now = section_digests(essence(live, keys=applied_keys, owned=applied_owned))
        drifted = {s for s in now.keys() | marker.sections.keys() if now.get(s) != marker.sections.get(s)}
    if _status_drifted(live.status, marker):
        drifted.add("status")
    return drifted


SyncState = Literal["in-sync", "drifted", "not-managed"]


def sync_state(live: Pipeline) -> SyncState:
    """`status`'s SYNC column: whether `live` is still what Loopform last applied to it."""
    marker = read_marker(live)
    if marker is None:
        return "not-managed"
    return "drifted" if applied_drift(live, marker) else "in-sync"


def _in_current_terms(drifted: set[str], marker: Marker, known: Mapping[str, str]) -> set[str]:
    """`applied_drift`'s sections renamed to the keys the changes are shown under: a node is
    followed by its id from the key it had at the apply to the key it has now (`known`: id -> key)."""
    out: set[str] = set()
    for section in drifted:
        if section.startswith("nodes."):
            key = section[len("nodes."):]
            node_id = marker.nodes.get(key)
            section = f"nodes.{known.get(node_id, key) if node_id else key}"
        out.add(section)
    return out


def _marker_change(field: str, before: Any, after: Any) -> FieldChange:
    """One marker field brought up to date; of a mapping (the node map) only the entries that
    differ, so that a shortened value never hides the difference."""
    if isinstance(before, dict) and isinstance(after, dict):
        differ = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        before = {k: before[k] for k in differ if k in before}
        after = {k: after[k] for k in differ if k in after}
    return FieldChange.at("marker", field, before=before, after=after)


def _renames(before: Marker, after: Marker, live_keys: Mapping[str, str]) -> list[FieldChange]:
    """A node that kept its id under a new spec key (`id:` in the spec), for each live node."""
    old_by_id = before.node_key_by_id()
    out = []
    for new_key, node_id in sorted(after.nodes.items()):
        old_key = old_by_id.get(node_id)
        if old_key is not None and old_key != new_key and node_id in live_keys:
            out.append(FieldChange.at("nodes", new_key, before=f"nodes.{old_key}", after=f"nodes.{new_key}",
                                      op=ChangeOp.RENAME))
    return out


def diff_pipeline(
    desired: Pipeline,
    live: Pipeline | None,
    *,
    owned: frozenset[str] = frozenset(),
    status: DesiredStatus = "installed",
    reset_token: str | None = None,
    desired_essence: Essence | None = None,
    names: NameLookup | None = None,
) -> PipelineDiff:
    """Compare a compiled `desired` document (its marker included) with `live` (None: absent).

    Actions come out in execution order: create; or pause, reset, update, resume.
    A change is marked `drift` when live no longer matches the section digest the marker recorded
    at the last apply, i.e. the live value was edited outside Loopform.
    `names` (id -> name of datasets, recipes, models, services) lets changes of ids show as names.
    """
    desired_marker = read_marker(desired) or Marker()
    desired_keys = desired_marker.node_key_by_id()
    dkeys = node_keys(desired, desired_keys)
    # compile's essence of the same document (`CompiledPipeline.essence`) saves recomputing it.
    ess_desired = desired_essence if desired_essence is not None else essence(desired, keys=dkeys, owned=owned)

    if live is None:
        # A create shows what the spec sets: the essence's "" for no description is a default
        # the user never wrote (noise as `+ metadata.description = ""`).
        shown = ess_desired.model_copy(update={"fields": {k: v for k, v in ess_desired.fields.items() if v != ""}})
        changes = in_spec_terms([item.change() for item in essence_changes(Essence(), shown)],
                                {}, ess_desired.nodes, names)
        return PipelineDiff(actions=[Action.CREATE] + ([Action.RESUME] if status == "installed" else []),
                            changes=changes, reason="no live pipeline with this name")

    live_marker = read_marker(live)
    known = {**(live_marker.node_key_by_id() if live_marker else {}), **desired_keys}
    lkeys = node_keys(live, known)
    # A node the spec no longer has is shown whole, display name included (nothing on the desired
    # side to compare the name with).
    gone = {f"nodes.{k}.name" for k in lkeys.values() if k not in ess_desired.nodes}
    ess_live = essence(live, keys=lkeys, owned=owned | gone)

    raw = essence_changes(ess_live, ess_desired)
    drifted: set[str] = set()
    if raw and live_marker is not None:
        drifted = _in_current_terms(applied_drift(live, live_marker, owned=owned), live_marker, known)
    changes = in_spec_terms([item.change(drift=_section_of(item) in drifted) for item in raw],
                            ess_live.nodes, ess_desired.nodes, names) if raw else []

    reasons: list[str] = []
    actions: list[Action] = []
    status_actions, status_changes = _status_actions(live.status, status, live_marker)
    update = bool(changes)
    if live_marker is None:
        # Adopting an identical pipeline (export, then plan) is not a change worth a write: the
        # law is "plan after export shows no changes". The marker rides along with the first
        # real update; until then the pipeline is never pruned (only marked ones are).
        if update or (reset_token is not None):
            changes.append(FieldChange.at("managedBy", before=None, after="loopform", op=ChangeOp.ADD))
            reasons.append("not yet managed by Loopform: the marker variable will be added")
    else:
        renames = _renames(live_marker, desired_marker, lkeys)
        # Each rename heads its node's changes (stable sort: they go in first).
        changes = sorted([*renames, *changes], key=display_rank)
        update = update or bool(renames)
        # Bookkeeping the user did not write (digest after an edit made on both sides, a marker
        # from an older Loopform, a spec file moved) still needs writing, or every later plan
        # would misreport drift. The token is compared below; a status the plan changes is
        # recorded by apply after the pause or resume. The spec file's path alone is not worth a
        # write (planning an exported copy of the spec must show no changes): it rides along with
        # the next update, and until then a subset prune errs on the side of leaving it alone.
        # So do the module digests: a module edit that changes nothing here (a comment) is no
        # reason to write, and an exported copy (plain, no modules) plans no change.
        skip = {"sections", "resetToken", "nodes", "specPath", "modules"} | ({"status"} if status_actions else set())
        before_m = live_marker.model_dump(exclude=skip)
        after_m = desired_marker.model_dump(exclude=skip)
        stale = sorted(k for k in after_m if before_m.get(k) != after_m[k])
        if live_marker.nodes != desired_marker.nodes and not renames:
            stale.append("nodes")
        if stale and not changes:
            changes.extend(_marker_change(k, getattr(live_marker, k), getattr(desired_marker, k)) for k in stale)
        update = update or bool(stale)

    token_before = live_marker.resetToken if live_marker else None
    if reset_token is not None and reset_token != token_before:
        changes.append(FieldChange.at("resetToken", before=token_before, after=reset_token))
        # A token seen for the first time on an adopted pipeline is recorded, not acted on:
        # adopting must not wipe a running pipeline's cycles as a side effect.
        if live_marker is not None:
            actions.append(Action.RESET)
        update = True  # the marker records the token, so that it resets only once
    if Action.PAUSE in status_actions:
        actions.insert(0, Action.PAUSE)
    if update:
        actions.append(Action.UPDATE)
    if Action.RESUME in status_actions:
        actions.append(Action.RESUME)
    changes.extend(status_changes)
    if any(c.drift for c in changes):
        reasons.append("live was edited outside Loopform since the last apply")
    if not actions:
        actions = [Action.NO_OP]
    return PipelineDiff(actions=actions, changes=changes, reason="; ".join(reasons))


def diff_delete(live: Pipeline) -> PipelineDiff:
    """A managed pipeline no spec names, planned for deletion (only with --prune)."""
    return PipelineDiff(actions=[Action.DELETE],
                        reason=f"managed by Loopform and no spec names it (--prune); "
                               f"{len(live.nodes)} nodes will be deleted with it")
