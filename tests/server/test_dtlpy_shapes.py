"""Answers in the platform's shapes, read through dtlpy's own calls: the keys of a pipeline, a
cycle's node executions, compositions, and `POST /query/faas` telling its resources apart."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from harness import DtlpySdk, items_of

# APIPipeline's properties (OpenAPI v1.11.2, additionalProperties: false) and what dtlpy's
# Pipeline.from_json reads besides (`revisions`).
PLATFORM_PIPELINE_KEYS = frozenset({
    "id", "url", "name", "creator", "createdAt", "updatedAt", "projectId", "orgId", "nodes", "connections",
    "description", "preview", "status", "updatedBy", "compositionId", "startNodes", "settings", "variables",
    "resetTimestamp", "template", "versionNumber", "revisions",
})


@pytest.fixture(scope="module")
def sdk(dtlpy_sdk: DtlpySdk) -> DtlpySdk:
    return dtlpy_sdk


def noop(item):  # a code node's function; dtlpy ships its source text
    return item


def raw(sdk: DtlpySdk, path: str, body: Any = None) -> Any:
    method = "POST" if body is not None else "GET"
    response = requests.request(method, f"{sdk.server.base_url}{path}", json=body, timeout=30,
                                headers={"authorization": f"Bearer {sdk.server.token}"})
    response.raise_for_status()
    return response.json()


def installed(sdk: DtlpySdk, name: str) -> Any:
    dl = sdk.dl
    pipeline = sdk.project.pipelines.create(name=name)
    pipeline.nodes.add(dl.CodeNode(name="first", project_id=sdk.project.id, project_name=sdk.project.name,
                                   method=noop)).connect(
        dl.CodeNode(name="second", project_id=sdk.project.id, project_name=sdk.project.name, method=noop,
                    position=(2, 1)))
    return pipeline.update().install()


def test_a_pipeline_carries_the_platforms_keys_only(sdk: DtlpySdk) -> None:
    created = sdk.project.pipelines.create(name="keys")
    assert created.composition_id  # named at create
    for got in (raw(sdk, f"/pipelines/{created.id}"), installed(sdk, "keys-installed").to_json()):
        assert set(got) <= PLATFORM_PIPELINE_KEYS, set(got) - PLATFORM_PIPELINE_KEYS
    # what dtlpy sends back on update() is what it read (its to_json leaves out empty settings and
    # variables): no key of ours for it to carry round
    fetched = sdk.project.pipelines.get(pipeline_id=created.id)
    shown = {k for k, v in raw(sdk, f"/pipelines/{created.id}").items() if v not in ({}, [])}
    assert shown <= set(fetched.to_json())


def test_a_cycle_maps_node_ids_to_execution_objects(sdk: DtlpySdk) -> None:
    pipeline = installed(sdk, "cycle-shape")
    cycle = pipeline.execute(execution_input={"item": "item-1"})
    (listed,) = items_of(pipeline.pipeline_executions.list(), max_pages=1)
    assert set(listed.executions) == {node.node_id for node in pipeline.nodes}
    for node_id, executions in listed.executions.items():
        assert isinstance(executions, list)
        # dtlpy's tests read the execution id as `executions[node_id][0]['_id']` and GET it
        execution = sdk.dl.executions.get(execution_id=executions[0]["_id"])
        assert execution.id == executions[0]["_id"] and execution.status == "success"
        assert execution.pipeline == {"id": pipeline.id, "nodeId": node_id, "executionId": cycle.id}
        assert execution.creator == sdk.dl.info()["user_email"]


def test_query_faas_answers_the_resource_asked_for(sdk: DtlpySdk) -> None:
    pipeline = installed(sdk, "faas-resources")
    cycle = pipeline.execute(execution_input={"item": "item-1"})
    node_executions = {e[0]["_id"] for e in raw(sdk, f"/pipelines/{pipeline.id}/executions/{cycle.id}")
                       ["executions"].values()}
    listed = {e.id for e in sdk.project.executions.list().all()}
    assert node_executions <= listed
    assert [p.name for p in sdk.project.packages.list().all()] == []  # no services in a package listing
    assert all(s.id not in listed for s in sdk.project.services.list().all())
    bad = requests.post(f"{sdk.server.base_url}/query/faas", json={"resource": "bots"}, timeout=30,
                        headers={"authorization": f"Bearer {sdk.server.token}"})
    assert bad.status_code == 400


def test_compositions_are_queryable_and_follow_the_pipeline(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    pipeline = installed(sdk, "composition")
    composition = dl.compositions.get(composition_id=pipeline.composition_id)
    assert composition["status"] == "Installed" and composition["errorText"] is None
    pipeline.pause()
    filters = dl.Filters(resource=dl.FiltersResource.COMPOSITION)
    filters.add(field="id", values=[pipeline.composition_id], operator=dl.FILTERS_OPERATIONS_IN)
    page = dl.pipelines._list(filters=filters)
    assert page["totalItemsCount"] == 1 and page["items"][0]["status"] == "Uninstalled"
    pipeline.delete()
    with pytest.raises(dl.exceptions.NotFound):
        dl.compositions.get(composition_id=pipeline.composition_id)


def test_install_deploys_the_start_nodes_triggers_and_pause_deactivates_them(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    pipeline = sdk.project.pipelines.create(name="triggered")
    first = dl.DatasetNode(name="dataset-1", project_id=sdk.project.id, dataset_id="65a0000000000000000000d1",
                           dataset_folder="/pipeline", position=(1, 1))
    second = dl.DatasetNode(name="dataset-2", project_id=sdk.project.id, dataset_id="65a0000000000000000000d1",
                            dataset_folder="/", position=(2, 2))
    pipeline.nodes.add(first).connect(node=second)
    filters = dl.Filters()
    filters.add(field="dir", values="/pipeline")
    first.add_trigger(filters=filters)
    second.add_trigger(trigger_type=dl.TriggerType.CRON, cron="0 */6 * * *")
    pipeline = pipeline.update()
    pipeline.install()
    # dtlpy's pipeline_triggers test reads the deployed trigger's filter keys this way
    (page,) = list(pipeline.triggers.list())
    event = next(t for t in page if t.type == "Event")
    assert {key for condition in event.filters["$and"] for key in condition} >= {"dir"}
    assert event.pipeline_id == pipeline.id and event.active is True
    assert {t.type for t in page} == {"Event", "Cron"}
    pipeline.install()  # again: the same triggers, not new ones
    assert sorted(t.id for t in pipeline.triggers.list().all()) == sorted(t.id for t in page)
    pipeline.pause()
    assert [t.active for t in pipeline.triggers.list().all()] == [False, False]
