"""The updateVariable node: sets pipeline variables while a cycle runs; run by pipeline-utils'
`update_variable`.

As Dataloop's own templates build it (active learning: `Best Model`), each input port is named after
the pipeline variable it sets and has its type; the value that reaches the port becomes the
variable's value, for the nodes that run after, and flows on through the output port of the same
name. There is nothing else to configure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from reconciler.nodes.base import PIPELINE_UTILS, CompileContext, NodeType, PlatformParts, RunContext, RunOutcome
from reconciler.nodes.view import NameLookup, SpecView
from reconciler.spec.fields import NodeSpecBase

if TYPE_CHECKING:
    from reconciler.document import Node
    from reconciler.spec.models import AnyNode


# -- the spec model -------------------------------------------------------------------------------

class UpdateVariableNode(NodeSpecBase):
    """Sets pipeline variables while a cycle runs: each input port is named after the variable it sets."""

    type: Literal["updateVariable"] = Field(description="Node type.", examples=["updateVariable"])


# -- the type -------------------------------------------------------------------------------------

_NAMESPACE = {"functionName": "update_variable", **PIPELINE_UTILS}


class UpdateVariable(NodeType):
    spec_type = "updateVariable"
    platform_type = "updateVariable"
    model = UpdateVariableNode

    def to_platform(self, key: str, node: AnyNode, ctx: CompileContext) -> PlatformParts:
        return PlatformParts(type=self.platform_type, namespace=dict(_NAMESPACE))

    def sets_variables(self, node: Node) -> list[str]:
        return [p.name for p in node.inputs if p.name]

    def spec_view(self, view: SpecView, names: NameLookup) -> None:
        view.drop_fixed(_NAMESPACE)

    def run(self, node: dict[str, Any], inputs: dict[str, Any], ctx: RunContext) -> RunOutcome:
        # The variables named by the input ports that got a value are set; the values flow on
        # through the output ports of the same name (one input: its value through every output).
        given = {str(p.get("name")): inputs.get(p.get("name")) for p in node.get("inputs") or []}
        given = {name: value for name, value in given.items() if value is not None}
        known = set(ctx.variables())
        unknown = sorted(set(given) - known)
        if unknown or not given:
            what = (f"its input {', '.join(map(repr, unknown))} names no pipeline variable" if unknown
                    else "none of its inputs got a value")
            listed = ", ".join(map(repr, sorted(known))) or "none"
            return RunOutcome(status="failed", message=f"updateVariable node {node.get('name')!r}: {what} "
                                                       f"(an input port is named after the variable it sets; "
                                                       f"the pipeline's variables: {listed})")
        ctx.set_variables(given)
        only = next(iter(given.values())) if len(given) == 1 else None
        outputs = {str(p.get("name")): given.get(str(p.get("name")), only) for p in node.get("outputs") or []}
        return RunOutcome(status="success", outputs=outputs)


TYPE = UpdateVariable()
