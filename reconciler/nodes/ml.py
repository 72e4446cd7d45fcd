"""The ml node: a model function (predict, train, evaluate, embed) run by the model-management app.

The service, module and package names follow from the function (`model-mgmt-app-<function>`), so
a spec names only the function; outputs are `item: Item` and `annotations: Annotation[]`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from reconciler.backend import ResourceKind
from reconciler.document import Node
from reconciler.nodes.base import (ITEM_PORT, CompileContext, ExportContext, NodeType, PlatformParts, RunContext,
                                   RunOutcome, no_runner)
from reconciler.nodes.view import NameLookup, SpecView, nonempty_str
from reconciler.spec.fields import NodeSpecBase, NonEmpty, PortSpec

if TYPE_CHECKING:
    from reconciler.spec.models import AnyNode


# -- the spec model -------------------------------------------------------------------------------

ML_FUNCTIONS = ("predict", "train", "evaluate", "embed")


class MlNode(NodeSpecBase):
    """A model function (predict, train, evaluate, embed)."""

    type: Literal["ml"] = Field(description="Node type.", examples=["ml"])
    model: NonEmpty | None = Field(
        default=None, description="Model name in the project.", examples=["yolov8"]
    )
    modelVariable: NonEmpty | None = Field(
        default=None, description="Pipeline variable (type Model) naming the model.", examples=["model"]
    )
    function: Literal[ML_FUNCTIONS] = Field(  # type: ignore[valid-type]
        default="predict", description="Model function to run.", examples=["predict"]
    )
    mlType: NonEmpty | None = Field(
        default=None, description="Model kind, e.g. genAi or embeddings.", examples=["genAi"]
    )
    modelConfig: dict[str, Any] | None = Field(
        default=None, description="Model configuration overrides.", examples=[{"conf_thresh": 0.4}]
    )

    @model_validator(mode="after")
    def _model_xor_variable(self) -> MlNode:
        if self.model is not None and self.modelVariable is not None:
            raise ValueError("give either `model` or `modelVariable`, not both")
        return self


# -- the type -------------------------------------------------------------------------------------

ML_PACKAGE = "model-mgmt-app"


def _service_names(function: str) -> dict[str, str]:
    """The namespace names the platform's model-management app uses for `function`."""
    service = f"{ML_PACKAGE}-{function}"
    return {"serviceName": service, "moduleName": service, "packageName": ML_PACKAGE}


class Ml(NodeType):
    spec_type = "ml"
    platform_type = "ml"
    variable_field = ("modelVariable", "Model")
    model = MlNode
    summary_fields = ("model", "function")
    schema_not_both = ("model", "modelVariable")

    def default_outputs(self, node: AnyNode) -> list[PortSpec]:
        return [ITEM_PORT, PortSpec(name="annotations", type="Annotation[]")]

    def names(self, node: AnyNode) -> list[tuple[ResourceKind, str]]:
        assert isinstance(node, MlNode)
        return [(ResourceKind.MODEL, node.model)] if node.model is not None else []

    def to_platform(self, key: str, node: AnyNode, ctx: CompileContext) -> PlatformParts:
        assert isinstance(node, MlNode)
        parts = PlatformParts(type=self.platform_type,
                              namespace={"functionName": node.function, **_service_names(node.function)})
        meta = parts.metadata
        if node.model is not None:
            found = ctx.resolve(ResourceKind.MODEL, node.model, f"/spec/nodes/{key}/model")
            if found:
                meta["modelId"], meta["modelName"] = found.id, node.model
        if node.modelVariable is not None:
            meta["variableModel"] = node.modelVariable
        if node.mlType is not None:
            meta["mlType"] = node.mlType
        if node.modelConfig is not None:
            meta["modelConfig"] = node.modelConfig
        return parts

    def from_platform(self, key: str, node: Node, ctx: ExportContext) -> dict[str, Any]:
        ns, meta = node.namespace, node.metadata
        out: dict[str, Any] = {}
        if ns.functionName in ML_FUNCTIONS and ns.functionName != "predict":
            out["function"] = ns.functionName
        if isinstance(meta.get("variableModel"), str) and meta["variableModel"]:
            out["modelVariable"] = meta["variableModel"]
        else:  # a spec names the model or the variable holding it, not both (the id stays raw)
            model = ctx.names.name(ResourceKind.MODEL, meta.get("modelId"))
            if model is not None:
                out["model"] = model
        if isinstance(meta.get("mlType"), str) and meta["mlType"]:
            out["mlType"] = meta["mlType"]
        if isinstance(meta.get("modelConfig"), dict):
            out["modelConfig"] = meta["modelConfig"]
        return out

    def spec_view(self, view: SpecView, names: NameLookup) -> None:
        ns = view.namespace
        fn = ns.get("functionName")
        if isinstance(fn, str):
            derived = _service_names(fn)
            paths = ["namespace.functionName", *(f"namespace.{k}" for k in derived)]
            if view.usable(*paths) and all(ns.get(k) == v for k, v in derived.items()):
                view.put("function", fn, *paths)
        view.named("model", ResourceKind.MODEL, "metadata.modelId", "metadata.modelName", names)
        view.take("modelVariable", "metadata.variableModel", nonempty_str)
        view.take("mlType", "metadata.mlType")
        view.take("modelConfig", "metadata.modelConfig")


    def run(self, node: dict[str, Any], inputs: dict[str, Any], ctx: RunContext) -> RunOutcome:
        # The model's locally registered adapter runs the function in its own process, as the
        # platform's model-management service runs it; without one the item stops here.
        meta = node.get("metadata") or {}
        model_id = meta.get("modelId")
        if isinstance(meta.get("variableModel"), str):
            model_id = ctx.variables().get(meta["variableModel"]) or model_id
        function = str((node.get("namespace") or {}).get("functionName") or "predict")
        ports = [{**port, "value": inputs.get(port.get("name"))} for port in node.get("inputs") or []]
        result = ctx.run_model(str(model_id), function, ports, list(node.get("outputs") or [])) \
            if isinstance(model_id, str) else None
        if result is None:
            return RunOutcome(status="pending", message=no_runner(node))
        if result.error is not None:
            return RunOutcome(status="failed", message=result.error, log=result.log)
        return RunOutcome(status="success", outputs=result.outputs, log=result.log)


TYPE = Ml()
