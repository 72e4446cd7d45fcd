"""Adoption and saved plans end to end: export the 16 real pipelines from the control plane and
plan against them (no changes); `plan -out` then `show` (stale warnings)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import ModuleType

from conftest import BASE_SPEC, World, cli
from harness import point_dtlpy

from reconciler.backend import ResourceKind
from reconciler.document import Pipeline
from reconciler.spec import load

REPO = Path(__file__).resolve().parents[2]

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "dataloop-pipelines").glob("*.json"))


def test_export_of_the_16_fixtures_then_plan_shows_no_changes(world: World) -> None:
    backend = world.backend()
    try:
        project = backend.project("local")
        for path in FIXTURES:
            data = json.loads(path.read_text())["components"]["pipelineTemplates"][0]
            data.pop("_id", None)
            backend.create_pipeline(Pipeline.model_validate({**data, "projectId": project.id}))
    finally:
        backend.close()
    exported = cli("export", "--project", "local", "-o", "adopted")
    assert exported.code == 0, exported.err
    assert "warning" not in exported.err
    loaded = load([Path("adopted")])
    assert loaded.ok, [str(e) for e in loaded.errors]
    assert len(loaded.specs) == 17  # the 16 fixtures and the scenario's own pipeline
    plan = cli("plan", "adopted", "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    assert "No changes. Live pipelines match the specs." in plan.out
    # Code nodes were written beside the specs and are read back through `source:`.
    assert list(Path("adopted/snippets").glob("*.py"))


def test_export_refuses_to_overwrite_and_prints_yaml_without_a_directory(world: World) -> None:
    printed = cli("export", "--project", "local", "frames")
    assert printed.code == 0
    assert printed.out.startswith("# Exported by loopform from local/frames\n")  # no $schema: no place to be relative to
    assert "code: |" in printed.out  # inline code when printing
    assert cli("export", "--project", "local", "-o", "out").code == 0
    again = cli("export", "--project", "local", "-o", "out")
    assert again.code == 1 and "exists; use --force" in again.err
    missing = cli("export", "--project", "local", "nope")
    assert missing.code == 1 and "no pipeline named 'nope'" in missing.err


def test_export_refers_to_the_schema_as_the_repository_s_specs_do(world: World) -> None:
    assert cli("export", "--project", "local", "-o", "elsewhere").code == 0
    assert "$schema" not in Path("elsewhere/frames.yaml").read_text()  # no schemas/ here: no dead link
    Path(".git").mkdir()
    Path("schemas").mkdir()
    shutil.copy(REPO / "schemas" / "pipeline.schema.json", "schemas/")
    assert cli("export", "--project", "local", "-o", "pipelines/adopted").code == 0
    first = Path("pipelines/adopted/frames.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../schemas/pipeline.schema.json"
    assert (REPO / "pipelines" / "video-frames.yaml").read_text().startswith(
        "# yaml-language-server: $schema=../schemas/pipeline.schema.json\n")  # the same style


def test_saved_plan_round_trips_and_show_warns_when_stale(world: World) -> None:
    spec = json.loads(json.dumps(BASE_SPEC))
    spec["spec"]["variables"][0]["value"] = 0.9
    world.write(spec)
    saved = cli("plan", "pipelines", "-out", "changes.plan")
    assert saved.code == 0 and "Saved the plan to changes.plan" in saved.out
    shown = cli("show", "changes.plan")
    assert shown.code == 0, shown.err
    assert "~ variables.threshold.value: 0.5 -> 0.9" in shown.out
    assert "stale" not in shown.err
    # The live pipeline moves (a reset token bump applied elsewhere, say): the plan is stale.
    bumped = json.loads(json.dumps(BASE_SPEC))
    bumped["spec"]["variables"].append({"name": "extra", "value": "x"})
    world.write(bumped)
    world.apply()
    world.write(spec)
    stale = cli("show", "changes.plan")
    assert "warning: stale plan: pipeline local/frames changed since the plan was made" in stale.err
    # And a spec edit alone is noticed offline too.
    world.write(BASE_SPEC)
    offline = cli("show", "changes.plan", "--offline")
    assert "warning: stale plan: spec pipelines/frames.yaml changed since the plan was made" in offline.err


def test_show_rejects_what_is_not_a_plan(world: World) -> None:
    Path("junk.plan").write_text('{"format_version": 7}')
    run = cli("show", "junk.plan", "--offline")
    assert run.code == 1 and "is not a Loopform plan" in run.err
    run = cli("show", "missing.plan", "--offline")
    assert run.code == 1 and "cannot read the plan" in run.err


def test_a_saved_plan_is_stale_after_an_edit_made_through_dtlpy(world: World, dtlpy_module: ModuleType) -> None:
    spec = json.loads(json.dumps(BASE_SPEC))
    spec["spec"]["variables"][0]["value"] = 0.9
    world.write(spec)
    assert cli("plan", "pipelines", "-out", "changes.plan").code == 0
    assert "stale" not in cli("show", "changes.plan").err
    pipeline = point_dtlpy(dtlpy_module, world.server).project.pipelines.get(pipeline_name="frames")
    pipeline.description = "edited in a notebook"
    pipeline.update()
    shown = cli("show", "changes.plan")
    assert shown.code == 0
    assert "warning: stale plan: pipeline local/frames changed since the plan was made" in shown.err
    assert "`loopform apply` will refuse this plan" in shown.err
    refused = cli("apply", "changes.plan")
    assert refused.code != 0 and "changed since the plan was made" in refused.err


def test_the_resolver_names_ids_over_http(world: World) -> None:
    """`Resolver.name_of`, the reverse lookup plan and export use, on dtlpy's own GET routes."""
    backend = world.backend()
    try:
        project = backend.project("local")
        resolver = backend.resolver(project.id)
        frames = resolver.resolve(ResourceKind.DATASET, "frames")
        recipe = resolver.resolve(ResourceKind.RECIPE, "default", scope=frames.id)
        for kind, name in ((ResourceKind.MODEL, "yolo"), (ResourceKind.SERVICE, "scorer")):
            planned = resolver.resolve(kind, name)
            assert planned.provision and resolver.name_of(kind, planned.id) is None  # not created yet
            backend.provision(project.id, planned)
            fresh = backend.resolver(project.id)  # the first one cached the answer
            assert fresh.name_of(kind, planned.id) == name
        assert resolver.name_of(ResourceKind.DATASET, frames.id) == "frames"
        assert resolver.name_of(ResourceKind.RECIPE, recipe.id) == "default"
        assert resolver.name_of(ResourceKind.DATASET, "0" * 24) is None
        assert resolver.name_of(ResourceKind.DATASET, "not an id/..") is None
        assert resolver.name_of(ResourceKind.USER, "a@b.c") == "a@b.c"
    finally:
        backend.close()
