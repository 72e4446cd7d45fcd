"""Node types: one module per type, one registry (pre-commit's `languages/`).

Everything Loopform knows about a particular node type lives in its module (`dataset`, `code`,
`function`, `task`, `ml`, `custom`, `update_variable`, `generic`), behind the `NodeType` protocol
of `reconciler.nodes.base`. Nothing outside this package branches on a node type's name: it asks
the registry for the type (`for_spec`, `for_platform`) and calls it. A new node type is one new
module here, listed in `TYPES`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from reconciler.nodes import code, custom, dataset, function, generic, ml, task, update_variable
from reconciler.nodes.base import NodeType
from reconciler.spec.fields import PortSpec

if TYPE_CHECKING:
    from reconciler.document import Node
    from reconciler.spec.models import AnyNode

# The typed node types, in the order the spec's node union lists them; `generic` takes the rest.
TYPES: tuple[NodeType, ...] = (dataset.TYPE, code.TYPE, function.TYPE, task.TYPE, ml.TYPE, custom.TYPE,
                               update_variable.TYPE)
GENERIC: NodeType = generic.TYPE
ALL: tuple[NodeType, ...] = (*TYPES, GENERIC)

# Every type's port settings (see NodeType.port_settings), for readers of data not yet typed.
PORT_SETTINGS: dict[str, tuple[str, ...]] = {name: fields for t in ALL for name, fields in t.port_settings.items()}

_BY_MODEL: dict[type, NodeType] = {t.model: t for t in ALL}
_BY_PLATFORM: dict[str, NodeType] = {t.platform_type: t for t in TYPES}
_BY_SPEC: dict[str, NodeType] = {t.spec_type: t for t in TYPES}


def for_spec(node: AnyNode) -> NodeType:
    """The type module of a spec node."""
    return _BY_MODEL[type(node)]


def for_platform(platform_type: object) -> NodeType:
    """The type module of a platform node type (`storage` -> dataset); generic for any other."""
    return _BY_PLATFORM.get(platform_type, GENERIC) if isinstance(platform_type, str) else GENERIC


def for_spec_type(spec_type: str) -> NodeType:
    """The type module of a spec's node type word (`dataset`); generic for any other."""
    return _BY_SPEC.get(spec_type, GENERIC)


def spec_type_of(platform_type: str) -> str:
    """The word a spec writes for a platform node type (`storage` -> `dataset`; others unchanged)."""
    found = _BY_PLATFORM.get(platform_type)
    return found.spec_type if found is not None else platform_type


def node_ports(node: AnyNode) -> tuple[list[PortSpec], list[PortSpec]]:
    """(inputs, outputs) of a spec node: its explicit ports, else its type's defaults.

    Used by validate (connection and action checks), compile (the ports it emits) and export (the
    defaults it leaves out), so they cannot disagree. Explicit `inputs:`/`outputs:` replace the
    defaults entirely."""
    kind = for_spec(node)
    inputs = list(node.inputs) if node.inputs is not None else kind.default_inputs(node)
    outputs = list(node.outputs) if node.outputs is not None else kind.default_outputs(node)
    return inputs, outputs


def runtime_variables(nodes: Iterable[Node]) -> set[str]:
    """The pipeline variables that nodes (platform form) set while cycles run (an updateVariable
    node's): their live values are the pipeline's state, compared and sent by no plan."""
    return {name for node in nodes for name in for_platform(node.type).sets_variables(node)}


__all__ = ["ALL", "GENERIC", "PORT_SETTINGS", "TYPES", "NodeType", "for_platform", "for_spec", "for_spec_type", "node_ports", "runtime_variables", "spec_type_of"]
