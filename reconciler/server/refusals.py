"""What the platform refuses, at the step where it refuses it, in its words.

The messages are the ones dtlpy's own tests expect from Dataloop (tests/features/pipeline_entity:
test_pipeline_validation, pipeline_update, test_pipeline_create, test_pipeline_install); a client
that matches on them (dtlpy's tests do) sees the same text here. Pure functions over a validated
document; the first refusal wins, because the platform answers with one message.

- `save_refusal(doc, step)`: on create (`step="create"`) and on every update (`"update"`: a PATCH of
  the document or of its variables), whatever the status:
  - more than one root start node: "Invalid input specified, Pipeline may only include 1 root node";
  - a connection between ports of different types (as `reconciler.spec.ports.accepts` judges them):
    "Invalid input specified, Failed to <step> pipeline: connection source and target ports must be
    of the same type";
  - an `action` on a connection from a port without `actions`: the platform's own JavaScript error,
    "Invalid input specified, Cannot read properties of undefined (reading 'includes')"; from a port
    whose `actions` lack it: "Invalid input specified, Failed to <step> pipeline: connection action
    do not includes in port actions";
  - a loop that passes no task node, a node connected to itself included (a loop through a task
    ends: the task waits for people): "Invalid input specified, Failed to <step> pipeline: Infinite
    Loop detected for node "<name>"".
- `install_refusal(doc)`: what install checks per node before deploying anything (each node type's
  `install_refusal`, in `reconciler.nodes`):
  - a dataset (`storage`) node without `metadata.datasetId` (or a `variableDataset`): "... must
    have a datasetId" (the words dtlpy's test matches; the frame around them is ours);
  - a dataset node that loads existing data (`triggerToPipeline.active`) with an incoming
    connection: it would be fed and also feed itself from the dataset;
  - a pulling task (`batchSize`) whose `maxBatchWorkload` is outside batchSize + 2 .. 2 x
    batchSize (`nodes.task.pulling_problem`): "Failed to create a task" (dtlpy's pulling-task test reads
    it from the composition's `errorText.message`).
"""

from __future__ import annotations

from reconciler.document import Node, Pipeline
from reconciler.nodes import for_platform
from reconciler.nodes.base import INVALID_INPUT as INVALID
from reconciler.server.graph import PortIndex
from reconciler.spec.graph import endless_loops
from reconciler.spec.ports import accepts


def save_refusal(doc: Pipeline, *, step: str) -> str | None:
    """The platform's 400 message for a document it will not store, or None."""
    roots = [s for s in doc.startNodes if s.type == "root"]
    if len(roots) > 1:
        return f"{INVALID}, Pipeline may only include 1 root node"
    failed = f"{INVALID}, Failed to {step} pipeline"
    nodes = {node.id: node for node in doc.nodes}
    ports = PortIndex(doc)  # a lookup per connection: a scan made a crafted document quadratic
    for conn in doc.connections:
        src_port, tgt_port = ports.output(conn.src), ports.input(conn.tgt)
        if src_port is None or tgt_port is None:
            continue  # a dangling connection is install's concern (graph.check_graph)
        if not accepts(src_port.type, tgt_port.type):
            return f"{failed}: connection source and target ports must be of the same type"
        if conn.action:
            if src_port.actions is None:
                return f"{INVALID}, Cannot read properties of undefined (reading 'includes')"
            if not ports.offers(conn.src, conn.action):
                return f"{failed}: connection action do not includes in port actions"
    successors: dict[str, list[str]] = {}
    for conn in doc.connections:
        successors.setdefault(conn.src.nodeId, []).append(conn.tgt.nodeId)
    waiting = {node.id for node in doc.nodes if for_platform(node.type).waits}
    loops = endless_loops([node.id for node in doc.nodes], successors, waiting)
    if loops:
        return f'{failed}: Infinite Loop detected for node "{nodes[loops[0][0]].name}"'
    return None


def install_refusal(doc: Pipeline) -> tuple[Node, str] | None:
    """(the node, the platform's message) for the first node install refuses, or None."""
    targeted = {conn.tgt.nodeId for conn in doc.connections}
    for node in doc.nodes:
        problem = for_platform(node.type).install_refusal(node, targeted=node.id in targeted)
        if problem is not None:
            return node, problem
    return None
