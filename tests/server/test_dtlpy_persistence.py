"""What dtlpy wrote survives a restart of the local control plane on the same database file,
and the token minted before the restart still works (the signing secret lives in the database)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from harness import point_dtlpy

from reconciler.server.testing import serve_in_thread


def passthrough(item):  # the code node's function
    return item


def test_everything_survives_a_restart(tmp_path: Path, dtlpy_module: ModuleType) -> None:
    dl = dtlpy_module
    db = tmp_path / "state.db"

    with serve_in_thread(db) as first:
        token = first.token
        point_dtlpy(dl, first, token)
        project = dl.projects.create(project_name="durable")
        pipeline = project.pipelines.create(name="keeps")
        node = dl.CodeNode(name="pass", project_id=project.id, project_name=project.name, method=passthrough)
        pipeline.nodes.add(node)
        node.add_trigger(trigger_type=dl.TriggerType.CRON, cron="*/5 * * * *")
        pipeline.variables.append(dl.Variable(name="limit", value=3, variable_type=dl.PackageInputType.INT))
        pipeline = pipeline.update().install()
        execution = pipeline.execute(execution_input={"item": "item-1"})
        first.control_plane.engine.drain()  # the statistics compared are those of a finished cycle
        before = pipeline.to_json()
        stats_before = [(c.status, c.count) for c in pipeline.stats().pipeline_counters]

    with serve_in_thread(db) as second:
        point_dtlpy(dl, second, token)  # the old token: same per-database secret
        project = dl.projects.get(project_name="durable")
        again = project.pipelines.get(pipeline_name="keeps")
        assert again.id == pipeline.id and again.status == "Installed"
        after = again.to_json()
        for key in ("nodes", "connections", "startNodes", "variables"):
            assert after[key] == before[key], key
        assert again.pipeline_executions.get(pipeline_execution_id=execution.id).id == execution.id
        assert [(c.status, c.count) for c in again.stats().pipeline_counters] == stats_before
        # And it keeps working: a write after the restart lands.
        assert project.pipelines.create(name="after-restart").project_id == project.id
