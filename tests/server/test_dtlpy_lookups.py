"""dtlpy's own lookups of the objects a spec names — datasets, recipes, models, services, members —
answered by the local control plane, in sandbox mode (provisioning allowed) and in strict mode.

The routes are dtlpy 1.126.5's: `POST /datasets/query` (with `context.projects`), `GET /datasets/{id}`,
`POST /datasets`, `GET /recipes/{id}` (a dataset's recipes are the ids in its
`metadata.system.recipes`), `GET /recipes?projects=...` (a project's), `POST /ml/models/query`,
`GET /ml/models/{id}`, `POST /query/faas`, `GET /services/{id}`, `GET /projects/{id}/members`.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import requests
from harness import DtlpySdk, point_dtlpy

from reconciler.server.testing import serve_in_thread

DATASET_ID = "65a000000000000000000001"
RECIPE_ID = "65a000000000000000000002"
MODEL_ID = "65a000000000000000000003"
SERVICE_ID = "65a000000000000000000004"


def provision(sdk: DtlpySdk, **body: Any) -> requests.Response:
    """POST /loopform/provision on the SDK's server: make a dataset/recipe/model/service with a given id."""
    return requests.post(
        f"{sdk.server.base_url}/loopform/provision",
        json=body,
        headers={"authorization": f"Bearer {sdk.server.token}"},
        timeout=30,
    )


@pytest.fixture(scope="module")
def servers(
    dtlpy_module: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DtlpySdk, DtlpySdk]]:
    with serve_in_thread(tmp_path_factory.mktemp("sandbox") / "state.db") as sandbox, serve_in_thread(
        tmp_path_factory.mktemp("strict") / "state.db", strict=True
    ) as strict:
        yield point_dtlpy(dtlpy_module, sandbox), point_dtlpy(dtlpy_module, strict)


@pytest.fixture
def sandbox(servers: tuple[DtlpySdk, DtlpySdk]) -> DtlpySdk:
    return servers[0]


@pytest.fixture
def strict(servers: tuple[DtlpySdk, DtlpySdk]) -> DtlpySdk:
    return servers[1]


def test_datasets_create_get_list_and_default_recipe(sandbox: DtlpySdk) -> None:
    project = sandbox.activate()
    created = project.datasets.create(dataset_name="frames")
    by_name = project.datasets.get(dataset_name="frames")
    by_id = project.datasets.get(dataset_id=created.id)
    assert by_name.id == by_id.id == created.id and by_id.name == "frames"
    assert created.id in {d.id for d in project.datasets.list()}
    recipes = by_id.recipes.list()
    assert len(recipes) == 1 and recipes[0].title
    assert recipes[0].id in {r.id for r in project.recipes.list().all()}


def test_dataset_names_are_scoped_to_their_project(sandbox: DtlpySdk) -> None:
    project = sandbox.activate()
    project.datasets.create(dataset_name="only-here")
    other = sandbox.dl.projects.create(project_name="elsewhere")
    with pytest.raises(sandbox.dl.exceptions.NotFound):
        other.datasets.get(dataset_name="only-here")
    assert [d.name for d in other.datasets.list()] == ["Binaries"]  # only its system dataset


def test_a_new_project_has_its_binaries_dataset_and_can_be_deleted(sandbox: DtlpySdk) -> None:
    sandbox.activate()
    dl = sandbox.dl
    project = dl.projects.create(project_name="teardown")
    # dtlpy's own lookup of the system dataset (what packages.push and its test setup use)
    assert project.datasets._get_binaries_dataset().name == "Binaries"
    assert dl.projects.delete(project_id=project.id, sure=True, really=True) is True
    with pytest.raises(dl.exceptions.NotFound):
        dl.projects.get(project_id=project.id)
    with pytest.raises(dl.exceptions.NotFound):
        project.datasets.get(dataset_name="Binaries")


def test_unknown_names_are_not_found(sandbox: DtlpySdk) -> None:
    project = sandbox.activate()
    dl = sandbox.dl
    with pytest.raises(dl.exceptions.NotFound):
        project.datasets.get(dataset_name="missing")
    with pytest.raises(dl.exceptions.NotFound):
        project.models.get(model_name="missing")
    with pytest.raises(dl.exceptions.NotFound):
        project.services.get(service_name="missing")
    with pytest.raises(dl.exceptions.NotFound):
        project.datasets.get(dataset_id="65a0000000000000000000ff")


def test_provisioned_objects_are_found_by_name_with_their_ids(sandbox: DtlpySdk) -> None:
    project = sandbox.activate()
    for kind, name, object_id, extra in (
        ("dataset", "provisioned", DATASET_ID, {}),
        ("recipe", "provisioned-recipe", RECIPE_ID, {"scope": DATASET_ID}),
        ("model", "detector", MODEL_ID, {}),
        ("service", "scorer", SERVICE_ID, {}),
    ):
        for _ in range(2):  # idempotent on the id
            response = provision(sandbox, kind=kind, name=name, id=object_id, projectId=project.id, **extra)
            assert response.ok, response.text

    dataset = project.datasets.get(dataset_name="provisioned")
    assert dataset.id == DATASET_ID
    assert RECIPE_ID in {r.id for r in dataset.recipes.list()}
    assert project.models.get(model_name="detector").id == MODEL_ID
    assert project.models.get(model_id=MODEL_ID).name == "detector"
    assert MODEL_ID in {m.id for m in project.models.list().all()}
    assert project.services.get(service_name="scorer").id == SERVICE_ID
    assert project.services.get(service_id=SERVICE_ID).name == "scorer"
    assert SERVICE_ID in {s.id for s in project.services.list().all()}


def test_members_list_the_default_user_and_added_members(sandbox: DtlpySdk) -> None:
    project = sandbox.activate()
    emails = {m.email for m in project.list_members()}
    assert "local@loopform.dev" in emails
    project.add_member(email="annotator@example.com", role=sandbox.dl.MemberRole.ANNOTATOR)
    members = {m.email: m for m in project.list_members()}
    assert "annotator@example.com" in members


def test_strict_mode_refuses_provisioning_and_answers_like_the_platform(strict: DtlpySdk) -> None:
    project = strict.activate()
    refused = provision(strict, kind="model", name="detector", id=MODEL_ID, projectId=project.id)
    assert refused.status_code == 400
    assert refused.json()["status"] == 400 and refused.json()["message"]
    with pytest.raises(strict.dl.exceptions.NotFound):
        project.models.get(model_name="detector")
    # Creating through the platform's own route still works in strict mode.
    assert project.datasets.create(dataset_name="real").id == project.datasets.get(dataset_name="real").id
