"""Spec files: loading with line marks, the pydantic models, the graph and its checks.

Public entry points: `load(paths) -> LoadResult` with `SpecFile`s, the models in
`reconciler.spec.models`, `reconciler.spec.graph.edges/root_key`, `reconciler.spec.loader.check`
and `reconciler.spec.schema.schema`; a node's ports are `reconciler.nodes.node_ports`.

The pure part (models, graph, finding, ports, suggest) is importable without the loading part
(loader, source, salvage, messages: files and YAML), so `load` and friends are imported on first
use rather than with the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.spec.loader import LoadResult, SpecFile, load

__all__ = ["LoadResult", "SpecFile", "load"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from reconciler.spec import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
