"""The resolved ports of a spec node: the one place that knows each node type's default ports.

Used by validate (connection and action checks) and by compile (the ports it emits), so the two
cannot disagree. Explicit `inputs:`/`outputs:` on a node replace the defaults entirely.

Defaults, from the SDK constructors and real exported pipelines (reference 4.2):
- every type: one input `item: Item` and one output `item: Item`;
- task: the output carries the task's actions — `[complete, discard]` (annotation) or
  `[approve, discard]` (qa), or `task.actions` when given — and displays the first action;
- ml: outputs `item: Item` and `annotations: Annotation[]`.
"""

from __future__ import annotations

from reconciler.spec.models import AnyNode, MlNode, PortSpec, TaskNode

_ITEM = PortSpec(name="item", type="Item")


def default_inputs(node: AnyNode) -> list[PortSpec]:
    return [_ITEM]


def default_outputs(node: AnyNode) -> list[PortSpec]:
    if isinstance(node, TaskNode):
        actions = node.task.default_actions()
        return [PortSpec(name="item", type="Item", actions=actions, displayName=actions[0])]
    if isinstance(node, MlNode):
        return [_ITEM, PortSpec(name="annotations", type="Annotation[]")]
    return [_ITEM]


def node_ports(node: AnyNode) -> tuple[list[PortSpec], list[PortSpec]]:
    """(inputs, outputs) of a node: its explicit ports, else its type's defaults."""
    inputs = list(node.inputs) if node.inputs is not None else default_inputs(node)
    outputs = list(node.outputs) if node.outputs is not None else default_outputs(node)
    return inputs, outputs


def _base(port_type: str) -> str:
    return port_type[:-2] if port_type.endswith("[]") else port_type


def accepts(source_type: str, target_type: str) -> bool:
    """Whether an output of `source_type` may feed an input of `target_type`.

    Compatible when the element types match, in either list form: the platform wraps a single
    `X` into `X[]`, and spreads an `X[]` output over an `X` input item by item — real exported
    pipelines connect `Item[]` to `Item` (e.g. "PDF to Txt" -> a dataset node). `Json` accepts
    anything, since every resource serialises to JSON. Anything else is a mismatch.
    """
    if target_type == "Json":
        return True
    return _base(source_type) == _base(target_type)
