"""Spec files: loading with line marks, the pydantic models, default ports, the graph and its checks.

Public entry points: `load(paths) -> LoadResult` with `SpecFile`s, the models in
`reconciler.spec.models`, `reconciler.spec.ports.node_ports`, `reconciler.spec.graph.edges/root_key`,
`reconciler.spec.checks.check` and `reconciler.spec.schema.schema`.
"""

from reconciler.spec.loader import LoadResult, SpecFile, load

__all__ = ["LoadResult", "SpecFile", "load"]
