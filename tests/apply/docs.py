"""Small, valid pipeline documents and plans for apply tests (what compile would produce)."""

from __future__ import annotations

import uuid

from reconciler.document import Connection, Node, Pipeline, Port, PortRef, StartNode
from reconciler.marker import Marker, with_marker
from reconciler.plan import Action, Plan, PipelineChange


def document(name: str, project_id: str, *, nodes: int = 2, reset_token: str | None = None,
             label: str = "n") -> Pipeline:
    ns = uuid.uuid5(uuid.NAMESPACE_URL, f"{project_id}/{name}")
    built = []
    for i in range(nodes):
        nid = str(uuid.uuid5(ns, f"node{i}"))
        built.append(Node(
            id=nid, name=f"{label}{i}", type="code",
            namespace={"functionName": "run"},
            inputs=[Port(portId=str(uuid.uuid5(ns, f"in{i}")), type="Item", name="item")],
            outputs=[Port(portId=str(uuid.uuid5(ns, f"out{i}")), type="Item", name="item")],
            metadata={"position": {"x": 100 + 300 * i, "y": 87, "z": 0}},
            config={"package": {"code": "def run(item):\n    return item\n", "name": "run", "type": "code"}},
        ))
    connections = [Connection(src=PortRef(nodeId=a.id, portId=a.outputs[0].portId),
                              tgt=PortRef(nodeId=b.id, portId=b.inputs[0].portId))
                   for a, b in zip(built, built[1:])]
    doc = Pipeline(name=name, projectId=project_id, nodes=built, connections=connections,
                   startNodes=[StartNode(nodeId=built[0].id, type="root")])
    marker = Marker(nodes={f"node{i}": n.id for i, n in enumerate(built)}, resetToken=reset_token)
    return with_marker(doc, marker)


def change(project_id: str, name: str, actions: list[Action], *, desired: Pipeline | None = None,
           pipeline_id: str | None = None, reset_token: str | None = None, project: str = "local") -> PipelineChange:
    return PipelineChange(project=project, project_id=project_id, name=name, pipeline_id=pipeline_id,
                          actions=actions, desired=desired, reset_token=reset_token)


def plan(*changes: PipelineChange) -> Plan:
    return Plan.build(changes, backend="test", spec_digests={})
