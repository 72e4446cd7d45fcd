"""Recipes, ontologies and labels through dtlpy's own calls (the flows of dtlpy's recipes and
ontologies tests: a dataset's default recipe, labels added, updated and deleted, a plain recipe
made the dataset's recipe)."""

from __future__ import annotations

import pytest
from harness import DtlpySdk


@pytest.fixture(scope="module")
def sdk(dtlpy_sdk: DtlpySdk) -> DtlpySdk:
    return dtlpy_sdk


def test_a_new_dataset_has_a_default_recipe_whose_labels_can_be_added(sdk: DtlpySdk) -> None:
    dataset = sdk.project.datasets.create(dataset_name="labelled")
    (recipe,) = dataset.recipes.list()
    ontology = recipe.ontologies.get(ontology_id=recipe.ontology_ids[0])
    assert ontology.labels == []
    dataset.add_labels(label_list=["cat", "dog"])
    again = sdk.project.datasets.get(dataset_id=dataset.id)
    assert sorted(label.tag for label in again.labels) == ["cat", "dog"]


def test_ontology_labels_nest_update_and_delete(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    dataset = sdk.project.datasets.create(dataset_name="nested")
    ontology = dataset.recipes.list()[0].ontologies.list()[0]
    ontology.add_labels(label_list=[dl.Label(tag="animal", color=(255, 0, 0),
                                             children=[dl.Label(tag="cat")])], update_ontology=True)
    fetched = dl.ontologies.get(ontology_id=ontology.id)
    (animal,) = fetched.labels
    assert animal.tag == "animal" and animal.rgb == (255, 0, 0)
    assert [child.tag for child in animal.children] == ["animal.cat"]
    fetched.update_labels(label_list=[dl.Label(tag="animal", color=(0, 0, 255))], update_ontology=True)
    assert dl.ontologies.get(ontology_id=ontology.id).labels[0].rgb == (0, 0, 255)
    fetched = dl.ontologies.get(ontology_id=ontology.id)
    fetched.delete_labels(label_names=["animal"])
    assert dl.ontologies.get(ontology_id=ontology.id).labels == []


def test_a_plain_recipe_with_labels_becomes_the_datasets_recipe(sdk: DtlpySdk) -> None:
    dataset = sdk.project.datasets.create(dataset_name="switched")
    recipe = dataset.recipes.create(recipe_name="plain", labels=[sdk.dl.Label(tag="car", color=(0, 255, 0))])  # dtlpy needs a colour here
    assert recipe.title == "plain" and len(recipe.ontology_ids) == 1
    # dtlpy's test steps link it by editing the dataset's system metadata
    dataset.metadata["system"]["recipes"] = [recipe.id]
    sdk.project.datasets.update(dataset=dataset, system_metadata=True)
    fetched = sdk.project.datasets.get(dataset_id=dataset.id)
    assert fetched.metadata["system"]["recipes"] == [recipe.id]
    assert [label.tag for label in fetched.labels] == ["car"]
    recipe.title = "renamed"
    assert recipe.update().title == "renamed"
    assert [r.title for r in fetched.recipes.list()] == ["renamed"]


def test_recipes_and_ontologies_of_another_project_are_not_found(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    dataset = sdk.project.datasets.create(dataset_name="private-labels")
    recipe = dataset.recipes.list()[0]
    stranger = sdk.server.control_plane.mint_token("stranger@example.com")
    dl.client_api.token = stranger
    try:
        with pytest.raises(dl.exceptions.NotFound):
            dl.recipes.get(recipe_id=recipe.id)
        with pytest.raises(dl.exceptions.NotFound):
            dl.ontologies.get(ontology_id=recipe.ontology_ids[0])
    finally:
        dl.client_api.token = sdk.server.token
