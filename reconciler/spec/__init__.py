"""Spec files: loading with line marks, the pydantic models, default ports, the graph and its checks.

Public entry points: `load(paths) -> LoadResult` (in `reconciler.spec.loader`), the models in
`reconciler.spec.models`, `reconciler.spec.ports.node_ports`, `reconciler.spec.graph.edges/root_key`
and `reconciler.spec.checks.check`.
"""
