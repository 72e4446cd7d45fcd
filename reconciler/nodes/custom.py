"""The custom node: a node an installed app (DPK) provides, named by the app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from reconciler.document import Node
from reconciler.nodes.base import CompileContext, ExportContext, NodeType, PlatformParts
from reconciler.nodes.view import NameLookup, SpecView
from reconciler.spec.fields import NodeSpecBase, NonEmpty

if TYPE_CHECKING:
    from reconciler.spec.models import AnyNode


# -- the spec model -------------------------------------------------------------------------------

class CustomNode(NodeSpecBase):
    """A node provided by an installed app (DPK)."""

    type: Literal["custom"] = Field(description="Node type.", examples=["custom"])
    app: NonEmpty = Field(description="App name.", examples=["scoring-and-metrics"])
    dpk: NonEmpty | None = Field(
        default=None, description="DPK name (default: the app name).", examples=["scoring-and-metrics"]
    )
    function: NonEmpty | None = Field(
        default=None, description="Function the node runs.", examples=["consensus_agreement"]
    )
    service: NonEmpty | None = Field(
        default=None, description="Service name.", examples=["scoring-and-metrics"]
    )
    module: NonEmpty | None = Field(default=None, description="Module name.", examples=["dlm_module"])
    package: NonEmpty | None = Field(
        default=None, description="Package name.", examples=["scoring-and-metrics"]
    )
    nodeConfig: dict[str, Any] | None = Field(
        default=None,
        description="The app's node configuration form (metadata.customNodeConfig).",
        examples=[{"agreement_threshold": 0.75}],
    )


# -- the type -------------------------------------------------------------------------------------

# Spec field -> namespace field.
_NAMESPACE = (("function", "functionName"), ("service", "serviceName"), ("module", "moduleName"),
              ("package", "packageName"))


class Custom(NodeType):
    spec_type = "custom"
    platform_type = "custom"
    model = CustomNode
    summary_fields = ("app",)

    def to_platform(self, key: str, node: AnyNode, ctx: CompileContext) -> PlatformParts:
        assert isinstance(node, CustomNode)
        ns = {field: getattr(node, attr) for attr, field in _NAMESPACE}
        parts = PlatformParts(type=self.platform_type, namespace={k: v for k, v in ns.items() if v is not None},
                              extra={"appName": node.app, "dpkName": node.dpk or node.app})
        if node.nodeConfig is not None:
            parts.metadata["customNodeConfig"] = node.nodeConfig
        if node.function is not None:
            parts.metadata["pipelineNodeName"] = node.function
        return parts

    def from_platform(self, key: str, node: Node, ctx: ExportContext) -> dict[str, Any]:
        ns, meta = node.namespace, node.metadata
        out: dict[str, Any] = {"app": node.appName or node.dpkName or "app"}
        if node.dpkName and node.dpkName != out["app"]:
            out["dpk"] = node.dpkName
        for attr, field in _NAMESPACE:
            value = getattr(ns, field)
            if value:
                out[attr] = value
        if isinstance(meta.get("customNodeConfig"), dict):
            out["nodeConfig"] = meta["customNodeConfig"]
        return out

    def spec_view(self, view: SpecView, names: NameLookup) -> None:
        view.take("app", "appName")
        if view.has("dpkName") and view.usable("dpkName"):
            dpk = view.get("dpkName")
            if dpk != view.get("appName"):
                view.put("dpk", dpk, "dpkName")
            else:
                view.consumed.add("dpkName")
        for spec_field, ns_field in _NAMESPACE:
            view.take(spec_field, f"namespace.{ns_field}")
        view.take("nodeConfig", "metadata.customNodeConfig")
        if view.usable("metadata.pipelineNodeName") \
                and view.get("metadata.pipelineNodeName") == view.namespace.get("functionName") is not None:
            view.consumed.add("metadata.pipelineNodeName")


TYPE = Custom()
