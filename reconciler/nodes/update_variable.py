"""The updateVariable node: sets pipeline variables while a cycle runs (configured through raw
`metadata`); run by pipeline-utils' `update_variable`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from reconciler.nodes.base import PIPELINE_UTILS, CompileContext, NodeType, PlatformParts
from reconciler.nodes.view import NameLookup, SpecView
from reconciler.spec.fields import NodeSpecBase

if TYPE_CHECKING:
    from reconciler.spec.models import AnyNode


# -- the spec model -------------------------------------------------------------------------------

class UpdateVariableNode(NodeSpecBase):
    """Sets pipeline variables while a cycle runs (configure it through raw `metadata`)."""

    type: Literal["updateVariable"] = Field(description="Node type.", examples=["updateVariable"])


# -- the type -------------------------------------------------------------------------------------

_NAMESPACE = {"functionName": "update_variable", **PIPELINE_UTILS}


class UpdateVariable(NodeType):
    spec_type = "updateVariable"
    platform_type = "updateVariable"
    model = UpdateVariableNode

    def to_platform(self, key: str, node: AnyNode, ctx: CompileContext) -> PlatformParts:
        return PlatformParts(type=self.platform_type, namespace=dict(_NAMESPACE))

    def spec_view(self, view: SpecView, names: NameLookup) -> None:
        view.drop_fixed(_NAMESPACE)


TYPE = UpdateVariable()
