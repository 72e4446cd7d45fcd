"""The edge that makes a Plan: read live state through a Backend, then run the pure core.

    make_plan(spec_files, backend, default_project=..., prune=...) -> Plan

Per project named by the specs: one `project()` lookup, one `list_pipelines()` (never one GET per
pipeline) while one caching Resolver looks up every name the specs use (one query per kind). Then per spec: compile against the live pipeline of the same name,
diff, and record what apply needs. Every spec problem found on the way (unknown names, no project,
two specs for one pipeline) is collected and raised together as `SpecErrors`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from reconciler import collector
from reconciler.backend import Backend, BatchResolver, Project, ResourceKind, Resolver
from reconciler.compile import CompiledPipeline, SpecSource, compile_spec, referenced_names
from reconciler.diff import diff_delete, diff_pipeline
from reconciler.document import Pipeline
from reconciler.errors import NotFound, SpecError, SpecErrors
from reconciler.interpolate import Context
from reconciler.marker import owned_by, read_marker
from reconciler.normalize import fingerprint
from reconciler.plan import Action, Plan, PipelineChange
from reconciler.secret_paths import recorded_secrets
from reconciler.spec.graph import Edge
from reconciler.spec_set import SpecSet
from reconciler.spec_terms import NameLookup


class PlannedSpec(SpecSource, Protocol):
    """What the planner needs of a spec file beyond compile's: where it is and its digest
    (`reconciler.spec.SpecFile` provides it)."""

    @property
    def path(self) -> Any: ...

    @property
    def digest(self) -> str: ...

    @property
    def modules(self) -> Mapping[str, str]: ...

    @property
    def edges(self) -> Sequence[Edge] | None: ...


@dataclass
class _Group:
    project_name: str
    specs: list[PlannedSpec]


def _group_by_project(spec_files: Sequence[PlannedSpec], default_project: str | None) -> dict[str, _Group]:
    errors: list[SpecError] = []
    groups: dict[str, _Group] = {}
    seen: dict[tuple[str, str], PlannedSpec] = {}
    for sf in spec_files:
        project = sf.spec.metadata.project or default_project
        if project is None:
            errors.append(SpecError(
                "no project: set `metadata.project`, or a default with --project / LOOPFORM_PROJECT",
                sf.locate("/metadata")))
            continue
        key = (project, sf.spec.metadata.name)
        if key in seen:
            first = seen[key].locate("/metadata/name")
            errors.append(SpecError(f"pipeline '{key[1]}' in project '{project}' is also defined at {first}",
                                    sf.locate("/metadata/name")))
            continue
        seen[key] = sf
        groups.setdefault(project, _Group(project, [])).specs.append(sf)
    if errors:
        raise SpecErrors(errors)
    return groups


def make_plan(
    spec_files: Sequence[PlannedSpec],
    backend: Backend,
    *,
    default_project: str | None,
    prune: bool = False,
    created_at: str | None = None,
    spec_set: SpecSet | None = None,
    context: Context | None = None,
) -> Plan:
    """The plan converging the live pipelines of every project the specs name to the specs.

    Pipelines that `spec_set` applied (their marker says so: `marker.owned_by`) from a file the
    command was given (`SpecSet.covers`) but that no spec names any more are, with `prune`,
    planned for deletion (in those projects and the default project); without, listed in
    `Plan.prunable`. `context` (the one the specs were loaded with) names the secret values: the
    desired marker records where they sit, and each live value at such a place is handed to
    `context.hide` (it may be a rotated secret's old value).
    Raises SpecErrors (spec problems, all of them), ApiError (the backend failed).
    """
    with collector.paused():
        return _make_plan(spec_files, backend, default_project=default_project, prune=prune,
                          created_at=created_at, spec_set=spec_set or SpecSet(), context=context)


def _make_plan(
    spec_files: Sequence[PlannedSpec],
    backend: Backend,
    *,
    default_project: str | None,
    prune: bool,
    created_at: str | None,
    spec_set: SpecSet,
    context: Context | None,
) -> Plan:
    secrets = context.secrets() if context is not None else {}
    groups = _group_by_project(spec_files, default_project)
    if prune and default_project and default_project not in groups:
        groups[default_project] = _Group(default_project, [])

    changes: list[PipelineChange] = []
    prunable: list[str] = []
    outside_scope: list[str] = []
    errors: list[SpecError] = []
    for project_name in sorted(groups):
        group = groups[project_name]
        try:
            project: Project = backend.project(project_name)
        except NotFound:
            if not group.specs:
                continue
            errors.extend(SpecError(f"unknown project '{project_name}'",
                                    sf.locate("/metadata/project" if sf.spec.metadata.project else "/metadata"))
                          for sf in group.specs)
            continue
        resolver = backend.resolver(project.id)
        live_by_name: dict[str, Pipeline] = {}
        for doc in _listed_while_prefetching(backend, project.id, resolver, group.specs):
            live_by_name.setdefault(doc.name, doc)
        named = set()
        for sf in group.specs:
            name = sf.spec.metadata.name
            named.add(name)
            live = live_by_name.get(name)
            try:
                compiled = compile_spec(sf, project_id=project.id, resolver=resolver, live=live,
                                        project_name=project.name, spec_set=spec_set.identity,
                                        spec_path=spec_set.member_path(sf.path), secrets=secrets,
                                        modules=sf.modules, edges=sf.edges)
            except SpecErrors as exc:
                errors.extend(exc.errors)
                continue
            if live is not None and context is not None:
                _hide_secrets(live, compiled.desired, context)
            found = diff_pipeline(compiled.desired, live, owned=compiled.owned,
                                  status=compiled.status,  # type: ignore[arg-type]
                                  reset_token=compiled.reset_token, desired_essence=compiled.essence,
                                  names=_names(compiled, resolver))
            sends_document = Action.CREATE in found.actions or Action.UPDATE in found.actions
            keep_desired = sends_document or any(a is not Action.NO_OP for a in found.actions)
            changes.append(PipelineChange(
                project=project.name, project_id=project.id, name=name,
                pipeline_id=live.id if live else None, actions=found.actions,
                desired=compiled.desired if keep_desired else None, changes=found.changes,
                provisions=compiled.provisions if sends_document else [],
                reset_token=compiled.reset_token,
                live_fingerprint=fingerprint(live) if live else None,
                reason=found.reason, spec_path=str(sf.path),
            ))
        for name, live in sorted(live_by_name.items()):
            marker = read_marker(live)
            if name in named or not owned_by(live, marker, spec_set.identity):
                continue  # another spec set's, a copy, or never managed: not ours to delete
            assert marker is not None
            if not spec_set.covers(marker.specPath):
                if prune:  # without, files not given are simply not planned: nothing to say
                    outside_scope.append(f"{project.name}/{name}")
            elif not prune:
                prunable.append(f"{project.name}/{name}")
            else:
                found = diff_delete(live)
                changes.append(PipelineChange(
                    project=project.name, project_id=project.id, name=name, pipeline_id=live.id,
                    actions=found.actions, changes=found.changes, reason=found.reason,
                    live_fingerprint=fingerprint(live),
                ))
    if errors:
        # In file order, as validate reports them, however compile happened to meet them.
        raise SpecErrors(sorted(errors, key=lambda e: (e.location.path, e.location.line, e.location.col,
                                                       e.message)))
    if created_at is None:
        created_at = datetime.now(UTC).isoformat(timespec="seconds")
    return Plan.build(changes, backend=backend.description,
                      spec_digests={str(sf.path): sf.digest for sf in spec_files}, created_at=created_at,
                      spec_set=spec_set.identity, prunable=prunable, outside_scope=outside_scope)


def _hide_secrets(live: Pipeline, desired: Pipeline, context: Context) -> None:
    """Hand `context` the live values where the live marker, or the spec now, puts a secret (a
    pipeline applied before its marker recorded secrets still has the old value there)."""
    marker = read_marker(desired)
    for found in recorded_secrets(live, also=marker.secrets if marker is not None else None):
        context.hide(found.value)


def _listed_while_prefetching(backend: Backend, project_id: str, resolver: BatchResolver,
                              specs: Sequence[PlannedSpec]) -> list[Pipeline]:
    """The project's live pipelines, listed while the resolver looks up every name the specs use
    (one query per kind): against a remote API the plan waits for one round trip, not one per name."""
    names: dict[ResourceKind, set[str]] = {}
    for sf in specs:
        for kind, found in referenced_names(sf.spec).items():
            names.setdefault(kind, set()).update(found)
    if not names:
        return backend.list_pipelines(project_id)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="loopform-list") as pool:
        listing = pool.submit(backend.list_pipelines, project_id)
        resolver.prefetch(names)
        return listing.result()


def _names(compiled: CompiledPipeline, resolver: Resolver) -> NameLookup:
    """id -> name for the plan's display: what the spec itself named first, then the backend's
    reverse lookup (cached by the resolver; only ever called for ids in a changed node)."""

    def lookup(kind: ResourceKind, ident: str) -> str | None:
        return compiled.name_of(kind, ident) or resolver.name_of(kind, ident)

    return lookup
