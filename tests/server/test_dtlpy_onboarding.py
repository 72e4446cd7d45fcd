"""The official dtlpy SDK runs Dataloop's onboarding operations against the local control plane.

One server per module (real HTTP on 127.0.0.1); the SDK is pointed at it the way a user would point
it at any Dataloop environment: `add_environment` + `setenv` + `login_token` (harness.point_dtlpy).
dtlpy reads DATALOOP_PATH once, at import, so the shared `dtlpy_module` fixture (tests/conftest.py)
sets it to a temporary directory before the first import in this process (pytest-xdist workers are
separate processes, each imports it afresh).
"""

from __future__ import annotations

import io
import json
import stat
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from faultkit import FaultInjector
from harness import DtlpySdk, items_of, point_dtlpy

from reconciler.server.testing import serve_in_thread


@pytest.fixture(scope="module")
def sdk(dtlpy_sdk: DtlpySdk) -> DtlpySdk:
    """This module's server, with dtlpy logged in to it (tests/server/conftest.py)."""
    return dtlpy_sdk


def noop(item):  # the body of the code nodes below; dtlpy ships its source text
    return item


def installable(sdk: DtlpySdk, name: str) -> Any:
    """A pipeline with one code node as its root: the smallest graph install accepts."""
    dl = sdk.dl
    pipeline = sdk.project.pipelines.create(name=name)
    node = dl.CodeNode(name="passthrough", project_id=sdk.project.id, project_name=sdk.project.name, method=noop)
    pipeline.nodes.add(node)
    return pipeline.update()


def test_login_token_calls_users_me_and_a_bad_token_is_refused(sdk: DtlpySdk) -> None:
    log = list(sdk.server.control_plane.request_log)
    assert any(entry[0] == "GET" and entry[1].endswith("/users/me") and entry[2] == 200 for entry in log)
    # A well-formed JWT that the server did not sign: dtlpy accepts it client-side, the server must not.
    forged = sdk.server.control_plane.mint_token("someone@example.com")[:-4] + "AAAA"
    with pytest.raises(ValueError, match="Invalid API key"):
        sdk.dl.login_token(forged)
    assert sdk.dl.client_api.token == sdk.server.token  # dtlpy restores the previous token


def test_projects_get_by_name_and_id(sdk: DtlpySdk) -> None:
    by_name = sdk.dl.projects.get(project_name="local")
    by_id = sdk.dl.projects.get(project_id=by_name.id)
    assert by_name.name == "local" and by_id.id == by_name.id and by_id.name == "local"


def test_projects_get_unknown_name_is_not_found(sdk: DtlpySdk) -> None:
    with pytest.raises(sdk.dl.exceptions.NotFound):
        sdk.dl.projects.get(project_name="no-such-project")


def test_projects_create_then_get(sdk: DtlpySdk) -> None:
    created = sdk.dl.projects.create(project_name="made-by-dtlpy")
    fetched = sdk.dl.projects.get(project_name="made-by-dtlpy")
    assert fetched.id == created.id and fetched.name == "made-by-dtlpy"
    assert list(fetched.pipelines.list().all()) == []


def test_pipelines_create_and_get_by_id_and_name(sdk: DtlpySdk) -> None:
    created = sdk.project.pipelines.create(name="get-me")
    by_id = sdk.project.pipelines.get(pipeline_id=created.id)
    by_name = sdk.project.pipelines.get(pipeline_name="get-me")
    assert created.status == "Created"
    assert by_id.id == by_name.id == created.id
    assert by_id.name == by_name.name == "get-me"
    assert by_id.project_id == by_name.project_id == sdk.project.id
    assert len(created.id) == 24 and int(created.id, 16) >= 0  # an ObjectId, like the platform's


def test_pipelines_get_unknown_is_not_found(sdk: DtlpySdk) -> None:
    with pytest.raises(sdk.dl.exceptions.NotFound):
        sdk.project.pipelines.get(pipeline_name="never-created")
    with pytest.raises(sdk.dl.exceptions.NotFound):
        sdk.project.pipelines.get(pipeline_id="0123456789abcdef01234567")


def test_pipelines_create_duplicate_name_conflicts(sdk: DtlpySdk) -> None:
    sdk.project.pipelines.create(name="twice")
    with pytest.raises(sdk.dl.exceptions.Conflict):
        sdk.project.pipelines.create(name="twice")


def test_pipelines_list_iterates_every_page_once(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    project = dl.projects.create(project_name="listing")
    made = {project.pipelines.create(name=f"list-{i:02d}").id for i in range(7)}
    filters = dl.Filters(resource=dl.FiltersResource.PIPELINE, page_size=3)
    paged = project.pipelines.list(filters=filters)
    seen = [p.id for p in items_of(paged, max_pages=3)]
    assert len(paged) == 7
    assert sorted(seen) == sorted(made)  # each exactly once, three pages
    assert [p.id for p in project.pipelines.list().all()] != []  # the default (pageSize 1000) route too


def test_pipelines_list_sorted_by_name_descending(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    project = dl.projects.create(project_name="sorting")
    for name in ("b", "c", "a"):
        project.pipelines.create(name=name)
    filters = dl.Filters(resource=dl.FiltersResource.PIPELINE)
    filters.sort_by(field="name", value=dl.FiltersOrderByDirection.DESCENDING)
    assert [p.name for p in project.pipelines.list(filters=filters).all()] == ["c", "b", "a"]


def test_pipelines_list_with_a_glob_filter(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    project = dl.projects.create(project_name="globbing")
    for name in ("frames-a", "frames-b", "audio"):
        project.pipelines.create(name=name)
    filters = dl.Filters(resource=dl.FiltersResource.PIPELINE, field="name", values="frames-*")
    assert sorted(p.name for p in project.pipelines.list(filters=filters).all()) == ["frames-a", "frames-b"]


def test_install_pause_lifecycle(sdk: DtlpySdk) -> None:
    pipeline = installable(sdk, "lifecycle")
    installed = sdk.project.pipelines.install(pipeline=pipeline)
    assert installed.status == "Installed"
    assert sdk.project.pipelines.get(pipeline_id=pipeline.id).status == "Installed"
    assert sdk.project.pipelines.pause(pipeline=installed) is None
    assert sdk.project.pipelines.get(pipeline_id=pipeline.id).status == "Uninstalled"
    resumed = pipeline.install(resume_option=sdk.dl.PipelineResumeOption.TERMINATE_EXISTING_CYCLES)
    assert resumed.status == "Installed"
    resumed.pause(keep_triggers_active=True)
    assert sdk.project.pipelines.get(pipeline_id=pipeline.id).status == "Uninstalled"


def test_install_an_empty_pipeline_fails(sdk: DtlpySdk) -> None:
    pipeline = sdk.project.pipelines.create(name="nothing-to-run")
    with pytest.raises(sdk.dl.exceptions.BadRequest, match="no nodes"):
        pipeline.install()
    assert sdk.project.pipelines.get(pipeline_id=pipeline.id).status == "Failure"


def test_execute_requires_an_installed_pipeline(sdk: DtlpySdk) -> None:
    pipeline = installable(sdk, "not-installed")
    with pytest.raises(sdk.dl.exceptions.BadRequest):
        sdk.project.pipelines.execute(pipeline=pipeline, execution_input={"item": "item-1"})


def test_execute_executions_and_stats(sdk: DtlpySdk) -> None:
    pipeline = installable(sdk, "runs").install()
    first = sdk.project.pipelines.execute(pipeline=pipeline, execution_input={"item": "item-1"})
    second = pipeline.pipeline_executions.create(pipeline_id=pipeline.id, execution_input={"item": "item-2"})
    third = pipeline.execute(execution_input=[sdk.dl.FunctionIO(type="Item", value="item-3", name="item")])
    made = [first, second, third]
    assert all(e.pipeline_id == pipeline.id for e in made)
    assert len({e.id for e in made}) == 3

    got = pipeline.pipeline_executions.get(pipeline_execution_id=second.id)
    assert got.id == second.id and got.pipeline_id == pipeline.id

    listed = items_of(pipeline.pipeline_executions.list(), max_pages=1)
    assert sorted(e.id for e in listed) == sorted(e.id for e in made)

    stats = sdk.project.pipelines.stats(pipeline=pipeline)
    counted = {c.status: c.count for c in stats.pipeline_counters if c.count}
    # Statistics are computed from the recorded executions, not canned.
    assert counted == dict(Counter(e.status for e in listed))
    assert sum(counted.values()) == 3


def test_execute_from_a_node_in_test_mode(sdk: DtlpySdk) -> None:
    pipeline = installable(sdk, "from-node").install()
    node_id = pipeline.nodes[0].node_id
    execution = pipeline.pipeline_executions.create(
        pipeline_id=pipeline.id, execution_input={"item": "item-9"}, node_id=node_id, test_mode=True
    )
    assert execution.pipeline_id == pipeline.id
    tested = pipeline.test(execution_input={"item": "item-10"})
    assert tested.pipeline_id == pipeline.id


def test_global_pipeline_executions_repository(sdk: DtlpySdk) -> None:
    pipeline = installable(sdk, "global-repo").install()
    execution = pipeline.execute(execution_input={"item": "item-1"})
    fetched = sdk.dl.pipeline_executions.get(pipeline_id=pipeline.id, pipeline_execution_id=execution.id)
    assert fetched.id == execution.id
    assert execution.id in {e.id for e in sdk.dl.pipeline_executions.list().all()}


def test_reset(sdk: DtlpySdk) -> None:
    pipeline = installable(sdk, "to-reset").install()
    pipeline.execute(execution_input={"item": "item-1"})
    assert sdk.project.pipelines.reset(pipeline=pipeline) is True
    assert sdk.project.pipelines.reset(pipeline_id=pipeline.id, stop_if_running=True) is True
    assert sdk.project.pipelines.get(pipeline_id=pipeline.id).status == "Uninstalled"


def test_open_in_web_opens_the_console_url(
    sdk: DtlpySdk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import webbrowser

    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{opened}"\n')
    browser.chmod(browser.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("BROWSER", str(browser))
    # webbrowser reads BROWSER once per process; make it read ours.
    monkeypatch.setattr(webbrowser, "_tryorder", None)
    monkeypatch.setattr(webbrowser, "_browsers", {})

    pipeline = sdk.project.pipelines.create(name="to-open")
    sdk.project.pipelines.open_in_web(pipeline=pipeline)
    sdk.project.pipelines.open_in_web(pipeline_id=pipeline.id)
    assert opened.read_text().splitlines() == [
        f"{sdk.web_url}projects/{sdk.project.id}/pipelines/{pipeline.id}",
    ] * 2
    # A browser (no token) following that link gets a page that says what it is, not a JSON 404,
    # and no data beyond the ids already in the link.
    page = requests.get(opened.read_text().splitlines()[0], timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert pipeline.id in page.text and "no web console" in page.text and "to-open" not in page.text
    hostile = requests.get(f"{sdk.web_url}projects/<img src=x onerror=alert(1)>/pipelines", timeout=10)
    assert "<img" not in hostile.text and "&lt;img src=x onerror=alert(1)&gt;" in hostile.text
    assert requests.post(f"{sdk.web_url}projects/{sdk.project.id}/pipelines", timeout=10).status_code == 404


def test_delete(sdk: DtlpySdk) -> None:
    by_entity = sdk.project.pipelines.create(name="delete-me")
    by_name = sdk.project.pipelines.create(name="delete-me-by-name")
    assert sdk.project.pipelines.delete(pipeline=by_entity) is True
    assert sdk.project.pipelines.delete(pipeline_name="delete-me-by-name") is True
    for pipeline in (by_entity, by_name):
        with pytest.raises(sdk.dl.exceptions.NotFound):
            sdk.project.pipelines.get(pipeline_id=pipeline.id)


def test_errors_come_back_as_status_and_message(sdk: DtlpySdk) -> None:
    response = requests.get(
        f"{sdk.server.base_url}/pipelines/0123456789abcdef01234567",
        headers={"authorization": f"Bearer {sdk.server.token}"},
        timeout=10,
    )
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404 and isinstance(body["message"], str) and body["message"]


def test_install_an_invalid_graph_fails(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    pipeline = installable(sdk, "dangling")
    code = pipeline.nodes[0]
    # A connection into a node that is not in the pipeline: the platform cannot deploy this.
    ghost = dl.PipelineConnectionPort(node_id="00000000-0000-4000-8000-000000000000", port_id="nope")
    source = dl.PipelineConnectionPort(node_id=code.node_id, port_id=code.outputs[0].port_id)
    pipeline.connections.append(dl.PipelineConnection(source=source, target=ghost, filters=None))
    pipeline = pipeline.update()  # saving a broken draft is allowed; deploying it is not
    with pytest.raises(dl.exceptions.BadRequest) as err:
        pipeline.install()
    assert "unknown node" in str(err.value)
    assert sdk.project.pipelines.get(pipeline_id=pipeline.id).status == "Failure"
    validation = sdk.project.pipelines.validate(pipeline_json=pipeline.to_json())
    assert validation and "unknown node" in json.dumps(validation)


def test_an_installed_pipeline_refuses_a_breaking_update_and_keeps_running(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    pipeline = installable(sdk, "running-edit").install()
    code = pipeline.nodes[0]
    # A sound edit of a running pipeline (a second node, connected) goes through, still installed.
    second = dl.CodeNode(name="second", project_id=sdk.project.id, project_name=sdk.project.name, method=noop)
    code.connect(second)
    pipeline = pipeline.update()
    assert pipeline.status == "Installed" and len(pipeline.connections) == 1
    ghost = dl.PipelineConnectionPort(node_id="00000000-0000-4000-8000-000000000000", port_id="nope")
    source = dl.PipelineConnectionPort(node_id=code.node_id, port_id=code.outputs[0].port_id)
    pipeline.connections.append(dl.PipelineConnection(source=source, target=ghost, filters=None))
    with pytest.raises(dl.exceptions.BadRequest) as err:
        pipeline.update()
    assert "unknown node" in str(err.value)
    live = sdk.project.pipelines.get(pipeline_id=pipeline.id)
    assert live.status == "Installed" and len(live.connections) == 1 and len(live.nodes) == 2


def test_execute_batch_starts_a_cycle_per_matching_item_and_returns_a_command(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    pipeline = installable(sdk, "batch").install()
    dataset = sdk.project.datasets.create(dataset_name="batch-items")
    for name, folder in (("a.jpg", "/test"), ("b.jpg", "/test"), ("c.jpg", "/other")):
        dataset.items.upload(local_path=io.BytesIO(b"x"), remote_name=name, remote_path=folder)
    filters = dl.Filters(field="dir", values="/test", context={"datasets": [dataset.id]})
    command = pipeline.execute_batch(
        filters=filters, execution_inputs=dl.FunctionIO(type=dl.PackageInputType.STRING, value="x", name="s"), wait=False
    )
    assert command.id
    fetched = dl.commands.get(command_id=command.id)
    assert fetched.id == command.id and fetched.status == command.status
    cycles = items_of(pipeline.pipeline_executions.list(), max_pages=1)
    inputs = [requests.get(f"{sdk.server.base_url}/pipelines/{pipeline.id}/executions/{c.id}", timeout=30,
                           headers={"authorization": f"Bearer {sdk.server.token}"}).json()["input"] for c in cycles]
    names = {dataset.items.get(item_id=given["item"]).name for given in inputs}
    assert names == {"a.jpg", "b.jpg"}
    unknown = dl.Filters(field="dir", values="/test", context={"datasets": ["65a000000000000000000001"]})
    with pytest.raises(dl.exceptions.NotFound):
        pipeline.execute_batch(filters=unknown, execution_inputs=dl.FunctionIO(type="String", value="x", name="s"),
                               wait=False)


def test_another_user_sees_nothing_of_this_project(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    pipeline = sdk.project.pipelines.create(name="private")
    dl.client_api.token = sdk.server.control_plane.mint_token("stranger@example.com")
    try:
        with pytest.raises(dl.exceptions.NotFound):
            dl.projects.get(project_name="local")
        with pytest.raises(dl.exceptions.NotFound):
            dl.projects.get(project_id=sdk.project.id)
        with pytest.raises(dl.exceptions.NotFound):
            dl.pipelines.get(pipeline_id=pipeline.id)
        assert pipeline.id not in {p.id for p in dl.pipelines.list().all()}
    finally:
        dl.client_api.token = sdk.server.token


# --- edges the SDK can reach -------------------------------------------------------------------


def test_execution_wait_returns_for_a_finished_cycle(sdk: DtlpySdk) -> None:
    pipeline = installable(sdk, "waits").install()
    execution = pipeline.execute(execution_input={"item": "item-1"})
    finished = execution.wait()  # polls GET .../executions/{id}; would hang on a stuck status
    assert finished.status in ("success", "failed", "terminated")


def test_executions_listing_pages_past_one_hundred(sdk: DtlpySdk) -> None:
    pipeline = installable(sdk, "many-runs").install()
    made = {pipeline.execute(execution_input={"item": f"item-{i}"}).id for i in range(130)}
    paged = pipeline.pipeline_executions.list()  # pageSize 100: two pages
    listed = [e.id for e in items_of(paged, max_pages=2)]
    assert len(listed) == 130 and set(listed) == made
    assert sum(c.count for c in pipeline.stats().pipeline_counters) == 130
    # Paused, the runs not started yet stay queued: 130 code runs would hold this module's shared
    # engine (and the tests after this one) for a minute or more on a 2-core machine.
    pipeline.pause()


def test_rerun_returns_a_command_with_cycle_options(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    pipeline = installable(sdk, "rerun").install()
    pipeline.execute(execution_input={"item": "item-1"})
    command = pipeline.pipeline_executions.rerun(method=dl.CycleRerunMethod.START_FROM_BEGINNING, wait=False)
    assert command.id and "cycleOptions" in command.spec
    assert dl.commands.get(command_id=command.id).id == command.id
    # wait=True polls the command and insists on spec.cycleOptions; it returns True, not the command.
    assert pipeline.pipeline_executions.rerun(method=dl.CycleRerunMethod.START_FROM_BEGINNING, wait=True) is True


def test_unicode_and_spaced_names(sdk: DtlpySdk) -> None:
    name = "Mý Prøject · 1"
    project = sdk.dl.projects.create(project_name=name)
    assert sdk.dl.projects.get(project_name=name).id == project.id
    pipeline = project.pipelines.create(name="ünïcode pipeline ✓")
    assert project.pipelines.get(pipeline_name="ünïcode pipeline ✓").id == pipeline.id


def test_read_only_fields_in_an_update_are_ignored(sdk: DtlpySdk) -> None:
    pipeline = sdk.project.pipelines.create(name="read-only-fields")
    pipeline.status = "Installed"
    pipeline.creator = "mallory@example.com"
    pipeline.composition_id = "65a0000000000000000000aa"
    updated = pipeline.update()
    fetched = sdk.project.pipelines.get(pipeline_id=pipeline.id)
    for got in (updated, fetched):
        assert got.status == "Created"
        assert got.creator != "mallory@example.com"
        assert got.composition_id != "65a0000000000000000000aa"


def test_a_large_pipeline_round_trips(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    pipeline = sdk.project.pipelines.create(name="large")
    nodes = [
        dl.CodeNode(name=f"step-{i}", project_id=sdk.project.id, project_name=sdk.project.name, method=noop,
                    position=(i % 20, i // 20))
        for i in range(150)
    ]
    pipeline.nodes.add(nodes[0])
    for a, b in zip(nodes, nodes[1:]):
        a.connect(b)
    sent = pipeline.to_json()
    got = sdk.project.pipelines.get(pipeline_id=pipeline.update().id).to_json()
    assert [n["id"] for n in got["nodes"]] == [n["id"] for n in sent["nodes"]]
    assert got["connections"] == sent["connections"]


def test_executions_of_a_deleted_pipeline_do_not_break_the_global_listing(sdk: DtlpySdk, tmp_path: Path) -> None:
    # The global repository GETs each execution's pipeline after the page came back; the pipeline
    # is deleted in between (a 404 there must be tolerated).
    faults = FaultInjector()
    with serve_in_thread(tmp_path / "state.db", wrap=faults) as server:
        other = point_dtlpy(sdk.dl, server)
        try:
            kept = installable(other, "kept").install()
            kept_run = kept.execute(execution_input={"item": "item-0"})
            gone = installable(other, "gone-soon").install()
            gone.execute(execution_input={"item": "item-1"})  # its execution is the one left out below
            deleted = faults.add("POST", r"/pipelines/query$", "then",
                                 then=lambda: server.control_plane.store.delete_pipeline(gone.id))
            server.control_plane.request_log.clear()
            listed = {e.id: e.pipeline_id for e in other.dl.pipeline_executions.list().all()}
            assert deleted.fired == 1
            # dtlpy logs the failed lookup and leaves that execution out of the listing (its
            # `_build_entities_from_response` keeps only the entities it could build).
            assert listed == {kept_run.id: kept.id}
            assert ("GET", f"/api/v1/pipelines/{gone.id}", 404) in [tuple(e) for e in server.control_plane.request_log]
        finally:
            point_dtlpy(sdk.dl, sdk.server)  # this module's server again, for the tests after this one


def test_list_filtered_by_status(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    project = dl.projects.create(project_name="by-status")
    installed = installable(DtlpySdk(dl=dl, server=sdk.server, project=project), "on").install()
    project.pipelines.create(name="off")
    filters = dl.Filters(resource=dl.FiltersResource.PIPELINE, field="status", values="Installed")
    assert [p.id for p in project.pipelines.list(filters=filters).all()] == [installed.id]
    filters = dl.Filters(resource=dl.FiltersResource.PIPELINE, field="status", values=["Installed", "Created"],
                         operator=dl.FiltersOperations.IN)
    assert len(list(project.pipelines.list(filters=filters).all())) == 2


def test_triggers_create_lands_on_the_root_start_node(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    pipeline = installable(sdk, "with-trigger")
    assert pipeline.triggers.create(
        pipeline=pipeline, resource=dl.TriggerResource.ITEM, actions=[dl.TriggerAction.UPDATED]
    ) is True  # add_trigger on the root node + update()
    starts = sdk.project.pipelines.get(pipeline_id=pipeline.id).start_nodes
    assert len(starts) == 1 and starts[0]["type"] == "root"
    assert starts[0]["trigger"]["spec"]["actions"] == ["Updated"]


def test_one_name_in_two_projects_resolves_per_project(sdk: DtlpySdk) -> None:
    other = sdk.dl.projects.create(project_name="second-home")
    here = sdk.project.pipelines.create(name="shared-name")
    there = other.pipelines.create(name="shared-name")
    assert here.id != there.id
    assert sdk.project.pipelines.get(pipeline_name="shared-name").id == here.id
    assert other.pipelines.get(pipeline_name="shared-name").id == there.id


def test_global_repository_get_by_id_binds_the_right_project(sdk: DtlpySdk) -> None:
    pipeline = sdk.project.pipelines.create(name="global-get")
    fetched = sdk.dl.pipelines.get(pipeline_id=pipeline.id)
    assert fetched.project_id == sdk.project.id and fetched.project.name == sdk.project.name
