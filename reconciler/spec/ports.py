"""Port types: which output may feed which input.

A node's ports (its explicit `inputs:`/`outputs:`, else its type's defaults) are
`reconciler.nodes.node_ports`: each node type module knows its own defaults (reference 4.2: every
type has one input `item: Item` and one output `item: Item`; a task's output carries its actions;
an ml node also outputs `annotations: Annotation[]`).
"""

from __future__ import annotations


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
