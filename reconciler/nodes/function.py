"""The function node: a function of a service already deployed in a project."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from reconciler.backend import ResourceKind
from reconciler.document import Node
from reconciler.nodes.base import CompileContext, ExportContext, NodeType, PlatformParts, RunContext, RunOutcome
from reconciler.nodes.view import NameLookup, SpecView
from reconciler.spec.fields import NodeSpecBase, NonEmpty

if TYPE_CHECKING:
    from reconciler.spec.models import AnyNode


# -- the spec model -------------------------------------------------------------------------------

class FunctionNode(NodeSpecBase):
    """A function of a deployed FaaS service."""

    type: Literal["function"] = Field(description="Node type.", examples=["function"])
    service: NonEmpty = Field(description="Service name.", examples=["frame-extractor"])
    function: NonEmpty = Field(description="Function name.", examples=["extract"])
    module: NonEmpty | None = Field(
        default=None, description="Module name.", examples=["default_module"]
    )
    package: NonEmpty | None = Field(
        default=None, description="Package name.", examples=["frame-extractor"]
    )
    project: NonEmpty | None = Field(
        default=None, description="Project that owns the service.", examples=["demo"]
    )


# -- the type -------------------------------------------------------------------------------------

# Spec field -> namespace field, in the order export writes them.
_NAMESPACE = (("service", "serviceName"), ("function", "functionName"), ("module", "moduleName"),
              ("package", "packageName"), ("project", "projectName"))


class Function(NodeType):
    spec_type = "function"
    platform_type = "function"
    model = FunctionNode
    summary_fields = ("service", "function")

    def names(self, node: AnyNode) -> list[tuple[ResourceKind, str]]:
        assert isinstance(node, FunctionNode)
        return [(ResourceKind.SERVICE, node.service)]

    def to_platform(self, key: str, node: AnyNode, ctx: CompileContext) -> PlatformParts:
        assert isinstance(node, FunctionNode)
        found = ctx.resolve(ResourceKind.SERVICE, node.service, f"/spec/nodes/{key}/service")
        known = found.extra if found else {}
        ns = {"functionName": node.function, "serviceName": node.service,
              "moduleName": node.module or known.get("moduleName") or "default_module",
              "packageName": node.package or known.get("packageName") or node.service,
              "projectName": node.project or ctx.project_name}
        return PlatformParts(type=self.platform_type, namespace={k: v for k, v in ns.items() if v is not None})

    def from_platform(self, key: str, node: Node, ctx: ExportContext) -> dict[str, Any]:
        ns = node.namespace
        out: dict[str, Any] = {"service": ns.serviceName or "service", "function": ns.functionName or "run"}
        for attr, field in _NAMESPACE[2:]:
            value = getattr(ns, field)
            if value:
                out[attr] = value
        return out

    def spec_view(self, view: SpecView, names: NameLookup) -> None:
        for spec_field, ns_field in _NAMESPACE:
            view.take(spec_field, f"namespace.{ns_field}")

    def run(self, node: dict[str, Any], inputs: dict[str, Any], ctx: RunContext) -> RunOutcome:
        # The pushed package's function, in its own process like a code node's.
        ports = [{**port, "value": inputs.get(port.get("name"))} for port in node.get("inputs") or []]
        result = ctx.run_service(dict(node.get("namespace") or {}), ports, list(node.get("outputs") or []))
        if result.error is not None:
            return RunOutcome(status="failed", message=result.error, log=result.log)
        return RunOutcome(status="success", outputs=result.outputs, log=result.log)


TYPE = Function()
