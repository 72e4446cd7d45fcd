"""Packages and services through dtlpy's own calls: `packages.push` (code into the Binaries
dataset), the platform's package-name rule, `services.deploy`, listings told apart by resource, and
a `FunctionNode` built against a local service, in a pipeline that installs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from harness import DtlpySdk

from reconciler.server.resources import create_resource

CODE = """import dtlpy as dl


class ServiceRunner(dl.BaseServiceRunner):
    def run(self, item):
        return item
"""


@pytest.fixture(scope="module")
def sdk(dtlpy_sdk: DtlpySdk) -> DtlpySdk:
    return dtlpy_sdk


def pushed(sdk: DtlpySdk, name: str, tmp_path: Path) -> Any:
    dl = sdk.dl
    (tmp_path / "main.py").write_text(CODE)
    module = dl.PackageModule(name="default_module", entry_point="main.py", functions=[
        dl.PackageFunction(name="run", inputs=[dl.FunctionIO(type=dl.PackageInputType.ITEM, name="item")],
                           outputs=[dl.FunctionIO(type=dl.PackageInputType.ITEM, name="item")])])
    return sdk.project.packages.push(package_name=name, src_path=str(tmp_path), modules=[module])


def test_push_uploads_the_code_and_deploy_makes_a_service(sdk: DtlpySdk, tmp_path: Path) -> None:
    package = pushed(sdk, "frame-cutter", tmp_path)
    assert package.name == "frame-cutter" and package.project_id == sdk.project.id
    # the code went into the project's Binaries dataset, as an item the package names
    code_item = sdk.dl.items.get(item_id=package.codebase.item_id)
    assert code_item.dataset_id == sdk.project.datasets._get_binaries_dataset().id
    service = package.services.deploy(service_name="frame-cutter-svc", module_name="default_module")
    assert service.package_id == package.id and service.module_name == "default_module"
    assert sdk.project.services.get(service_name="frame-cutter-svc").id == service.id
    assert [p.name for p in sdk.project.packages.list().all()] == ["frame-cutter"]
    assert service.id in [s.id for s in sdk.project.services.list().all()]
    assert sdk.project.packages.get(package_name="frame-cutter").id == package.id


@pytest.mark.parametrize("name", ["1package", "my_package", "-package", "package-", "Package",
                                  "packageabcderthjgkldkfjghrnfhdbchfnvjghgj"])
def test_package_names_the_platform_refuses(sdk: DtlpySdk, name: str) -> None:
    with pytest.raises(sdk.dl.exceptions.BadRequest) as caught:
        sdk.dl.packages._name_validation(name)
    # the two messages dtlpy's own test accepts
    assert "Invalid package name:" in caught.value.message or "Name must be at most 35 characters" in caught.value.message


@pytest.mark.parametrize("name", ["package", "my-package", "package-number-1"])
def test_package_names_the_platform_accepts(sdk: DtlpySdk, name: str) -> None:
    sdk.dl.packages._name_validation(name)


def test_a_function_node_against_a_local_service_installs(sdk: DtlpySdk, tmp_path: Path) -> None:
    dl = sdk.dl
    service = pushed(sdk, "resizer", tmp_path).services.deploy(service_name="resizer", module_name="default_module")
    node = dl.FunctionNode(name="resize", service=service, function_name="run", project_id=sdk.project.id,
                           project_name=sdk.project.name, position=(1, 1))
    assert [p.input_type for p in node.inputs] == ["Item"] and node.namespace.service_name == "resizer"
    pipeline = sdk.project.pipelines.create(name="with-a-function")
    pipeline.nodes.add(node)
    assert pipeline.update().install().status == "Installed"


def test_a_seeded_service_has_its_package(sdk: DtlpySdk) -> None:
    plane = sdk.server.control_plane
    seeded = create_resource(plane.store, "service", name="Seeded Service", project_id=sdk.project.id,
                             resource_id="65a0000000000000000000aa", creator=plane.default_user)
    service = sdk.project.services.get(service_id=seeded["id"])
    assert service.package.name == "seeded-service"
    node = sdk.dl.FunctionNode(name="seeded", service=service, function_name="run", project_id=sdk.project.id)
    assert [p.input_type for p in node.outputs] == ["Item"]


def test_executing_a_service_says_that_no_code_runs_here(sdk: DtlpySdk, tmp_path: Path) -> None:
    service = pushed(sdk, "runner", tmp_path).services.deploy(service_name="runner", module_name="default_module")
    with pytest.raises(sdk.dl.exceptions.BadRequest) as caught:
        service.execute(function_name="run", execution_input={"item": "x"}, project_id=sdk.project.id)
    assert "runs no code yet" in caught.value.message
