"""The execution engine of the local control plane: cycles that carry items through pipelines.

`core.Engine` (the worker pool, routing, triggers, task actions), `cycles` (the documents, pure),
`runner` (a code node's function in its own process, with limits) and `child` (the program that
process runs). Each node type's run behaviour is its module's `run` (reconciler.nodes).
"""

from reconciler.server.engine.core import Engine

__all__ = ["Engine"]
