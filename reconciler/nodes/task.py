"""The task node: an annotation or QA task that items wait in until a person acts on them.

Run by pipeline-utils' `move_to_task`. Its output port carries the task's actions (`complete`,
`discard` / `approve`, `discard`, or `task.actions`) and displays the first one. Items wait in it
for people, so a loop through a task (rejected items back to annotation) is not endless.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from reconciler.backend import ResourceKind
from reconciler.document import Node
from reconciler.nodes.base import (
    PIPELINE_UTILS,
    CompileContext,
    ExportContext,
    NodeChecks,
    NodeType,
    PlatformParts,
    RunContext,
    RunOutcome,
)
from reconciler.nodes.view import NameLookup, SpecView, nonempty_str
from reconciler.spec.fields import NodeSpecBase, NonEmpty, PortSpec, SpecModel
from reconciler.spec.finding import Finding

if TYPE_CHECKING:
    from reconciler.spec.models import AnyNode


# -- the spec model -------------------------------------------------------------------------------

TASK_DEFAULT_ACTIONS = {"annotation": ["complete", "discard"], "qa": ["approve", "discard"]}
# The item status a person's action sets (dtlpy's ItemStatus: completed, approved, discard); any
# other action (`task.actions`) sets a status of its own name.
_ACTION_STATUS = {"complete": "completed", "approve": "approved"}


def status_of(action: str) -> str:
    """The item status that `action` sets in a task (`complete` -> `completed`)."""
    return _ACTION_STATUS.get(action, action)


def action_of(said: str, offered: list[str]) -> str | None:
    """The action of `offered` that `said` (an action or the item status it sets: `complete`,
    `completed`) stands for, or None."""
    if said in offered:
        return said
    found = [a for a in offered if status_of(a) == said]
    if not found and said.endswith("ed"):  # a status of an action of the task's own (escalated)
        found = [a for a in offered if a in (said[:-1], said[:-2])]
    return found[0] if found else None


class WorkloadEntry(SpecModel):
    """One assignee's share of a task's items."""

    assignee: NonEmpty = Field(description="Assignee email.", examples=["ann@example.com"])
    load: float = Field(ge=0, le=100, description="Share of items, percent.", examples=[50])


class ConsensusSpec(SpecModel):
    """Items labeled by several assignees, to measure their agreement."""

    type: NonEmpty = Field(
        default="consensus", description="Consensus task type.", examples=["consensus"]
    )
    percentage: float | None = Field(
        default=None, ge=0, le=100, description="Share of items labeled by several people.", examples=[100]
    )
    assignees: int | None = Field(
        default=None, ge=2, description="How many people label each consensus item.", examples=[2]
    )


DUE_DATE_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$"
)


def _iso_date_or_datetime(value: str) -> str:
    if not re.match(DUE_DATE_PATTERN, value):
        raise ValueError("dueDate must be an ISO date (2026-12-31) or date-time")
    try:
        date.fromisoformat(value)
    except ValueError:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("dueDate must be an ISO date (2026-12-31) or date-time") from None
    return value


class TaskSpec(SpecModel):
    """An annotation or QA task items are sent to."""

    type: Literal["annotation", "qa"] = Field(
        default="annotation", description="Task type.", examples=["qa"]
    )
    dataset: NonEmpty | None = Field(
        default=None, description="Dataset the task lives in.", examples=["frames"]
    )
    recipe: NonEmpty | None = Field(
        default=None, description="Recipe title within the dataset.", examples=["default"]
    )
    assignees: list[NonEmpty] | None = Field(
        default=None,
        description="Assignee emails, sharing the load equally.",
        examples=[["ann@example.com", "bob@example.com"]],
    )
    workload: list[WorkloadEntry] | None = Field(
        default=None,
        description="Explicit load per assignee (instead of `assignees`).",
        examples=[[{"assignee": "ann@example.com", "load": 50}]],
    )
    owner: NonEmpty | None = Field(
        default=None, description="Task owner email.", examples=["lead@example.com"]
    )
    priority: Literal["low", "medium", "high"] | None = Field(
        default=None, description="Task priority.", examples=["medium"]
    )
    dueDate: str | None = Field(
        default=None,
        description="Due date, ISO date or date-time.",
        examples=["2026-12-31", "2026-12-31T18:00:00Z"],
    )
    batchSize: int | None = Field(
        default=None,
        ge=3,
        le=100,
        description="Pulling task: items an assignee pulls at a time (3 to 100).",
        examples=[10],
    )
    maxBatchWorkload: int | None = Field(
        default=None,
        ge=5,
        le=200,
        description="Pulling task: most items in one assignee's assignment, from batchSize + 2 "
        "to 2 x batchSize.",
        examples=[15],
    )
    consensus: ConsensusSpec | None = Field(
        default=None,
        description="Consensus settings.",
        examples=[{"type": "consensus", "percentage": 100, "assignees": 2}],
    )
    groups: list[NonEmpty] | None = Field(
        default=None, description="Assignee groups.", examples=[["labelers"]]
    )
    actions: list[NonEmpty] | None = Field(
        default=None,
        min_length=1,
        description="Overrides the output port's actions (default complete/discard or approve/discard).",
        examples=[["complete", "discard", "escalate"]],
    )

    @field_validator("dueDate")
    @classmethod
    def _due_is_iso(cls, value: str | None) -> str | None:
        return None if value is None else _iso_date_or_datetime(value)

    @model_validator(mode="after")
    def _assignees_xor_workload(self) -> TaskSpec:
        if self.assignees is not None and self.workload is not None:
            raise ValueError("give either `assignees` or `workload`, not both")
        return self

    def default_actions(self) -> list[str]:
        return list(self.actions) if self.actions else list(TASK_DEFAULT_ACTIONS[self.type])


class TaskNode(NodeSpecBase):
    """An annotation or QA task."""

    type: Literal["task"] = Field(description="Node type.", examples=["task"])
    task: TaskSpec = Field(
        default_factory=TaskSpec,
        description="The task's settings.",
        examples=[{"type": "annotation", "dataset": "frames", "recipe": "default"}],
    )


# -- the type -------------------------------------------------------------------------------------

# The spec's priority words and the numbers TaskNode.priority holds.
PRIORITY = {"low": 1, "medium": 2, "high": 3}
PRIORITY_NAMES = {number: word for word, number in PRIORITY.items()}


def due_date_ms(text: str) -> float:
    """ISO date or date-time -> epoch milliseconds (what TaskNode.dueDate holds). A bare date is
    midnight UTC, and a naive date-time is read as UTC, so the value never depends on the machine."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() * 1000


def due_date_text(value: Any) -> str | None:
    """A task's dueDate (epoch ms) as the spec writes it; None when it is not one."""
    # compile writes a spec's dueDate as epoch milliseconds; show it as the date it means (a bare
    # date when it is midnight UTC, which is how compile reads one).
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        moment = datetime.fromtimestamp(value / 1000, tz=UTC)
        return moment.date().isoformat() if value % 86_400_000 == 0 else moment.isoformat()
    return None


def _int_choice(table: dict[int, str]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        return table.get(value) if isinstance(value, int) and not isinstance(value, bool) else None
    return convert


def _workload(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(e, dict) and set(e) == {"assigneeId", "load"} for e in value):
        return [{"assignee": e["assigneeId"], "load": e["load"]} for e in value]
    return None


def pulling_problem(system: dict[str, Any]) -> str | None:
    """What is wrong with a pulling task's batch settings as the platform stores them
    (`metadata.system`; dtlpy `tasks.create`: batchSize 3..100, maxBatchWorkload batchSize + 2 ..
    2 x batchSize), or None."""
    size, most = system.get("batchSize"), system.get("maxBatchWorkload")
    if size is None:
        return None
    if not isinstance(size, int) or isinstance(size, bool) or not 3 <= size <= 100:
        return f"batchSize must be an integer from 3 to 100, got {size!r}"
    if most is None:
        return None
    if not isinstance(most, int) or isinstance(most, bool) or not size + 2 <= most <= 2 * size:
        return f"maxBatchWorkload must be from batchSize + 2 to 2 x batchSize ({size + 2} to {2 * size}), got {most!r}"
    return None


class Task(NodeType):
    spec_type = "task"
    platform_type = "task"
    model = TaskNode
    waits = True
    port_settings = {"task": ("type", "actions")}

    def install_refusal(self, node: Node, *, targeted: bool) -> str | None:
        problem = pulling_problem(node.metadata)
        return f'Failed to create a task for node "{node.name}": {problem}' if problem is not None else None

    def default_outputs(self, node: AnyNode) -> list[PortSpec]:
        assert isinstance(node, TaskNode)
        actions = node.task.default_actions()
        return [PortSpec(name="item", type="Item", actions=actions, displayName=actions[0])]

    def findings(self, key: str, node: AnyNode, base: str, checks: NodeChecks) -> list[Finding]:
        assert isinstance(node, TaskNode)
        findings: list[Finding] = []
        task = node.task
        if task.batchSize is not None and task.maxBatchWorkload is not None:
            low, high = task.batchSize + 2, task.batchSize * 2
            if not low <= task.maxBatchWorkload <= high:
                findings.append(
                    Finding(
                        f"{base}/task/maxBatchWorkload",
                        f"maxBatchWorkload must be from batchSize + 2 to 2 x batchSize ({low} to "
                        f"{high} for batchSize {task.batchSize}); got {task.maxBatchWorkload}",
                    )
                )
        if task.workload:
            total = sum(entry.load for entry in task.workload)
            if abs(total - 100) > 1e-6:
                findings.append(
                    Finding(f"{base}/task/workload", f"workload loads add up to {total:g}, not 100")
                )
        return findings

    def names(self, node: AnyNode) -> list[tuple[ResourceKind, str]]:
        assert isinstance(node, TaskNode)
        task = node.task
        found = [(ResourceKind.DATASET, task.dataset), (ResourceKind.RECIPE, task.recipe),
                 (ResourceKind.USER, task.owner), *((ResourceKind.USER, e.assignee) for e in task.workload or []),
                 *((ResourceKind.USER, email) for email in task.assignees or [])]
        return [(kind, name) for kind, name in found if name is not None]

    def to_platform(self, key: str, node: AnyNode, ctx: CompileContext) -> PlatformParts:
        assert isinstance(node, TaskNode)
        ptr = f"/spec/nodes/{key}"
        task = node.task
        parts = PlatformParts(type=self.platform_type, namespace={"functionName": "move_to_task", **PIPELINE_UTILS})
        meta = parts.metadata
        meta["taskType"] = task.type
        dataset_id = None
        if task.dataset is not None:
            found = ctx.resolve(ResourceKind.DATASET, task.dataset, f"{ptr}/task/dataset")
            if found:
                dataset_id = meta["datasetId"] = found.id
        if task.recipe is not None and dataset_id is not None:
            found = ctx.resolve(ResourceKind.RECIPE, task.recipe, f"{ptr}/task/recipe", scope=dataset_id)
            if found:
                meta["recipeId"], meta["recipeTitle"] = found.id, task.recipe
        if task.owner is not None:
            if ctx.resolve(ResourceKind.USER, task.owner, f"{ptr}/task/owner"):
                meta["taskOwner"] = task.owner
        if task.workload is not None:
            for i, entry in enumerate(task.workload):
                ctx.resolve(ResourceKind.USER, entry.assignee, f"{ptr}/task/workload/{i}/assignee")
            # Dataloop's WorkloadUnit identifies assignees by email (`assigneeId`).
            meta["workload"] = [{"assigneeId": e.assignee, "load": e.load} for e in task.workload]
        elif task.assignees is not None:
            for i, email in enumerate(task.assignees):
                ctx.resolve(ResourceKind.USER, email, f"{ptr}/task/assignees/{i}")
            share = round(100 / len(task.assignees), 2) if task.assignees else 0
            meta["workload"] = [{"assigneeId": e, "load": share} for e in task.assignees]
        if task.priority is not None:
            meta["priority"] = PRIORITY[task.priority]
        if task.dueDate is not None:
            meta["dueDate"] = due_date_ms(task.dueDate)
        if task.batchSize is not None:
            meta["batchSize"] = task.batchSize
        if task.maxBatchWorkload is not None:
            meta["maxBatchWorkload"] = task.maxBatchWorkload
        if task.consensus is not None:
            meta["consensusTaskType"] = task.consensus.type
            if task.consensus.percentage is not None:
                meta["consensusPercentage"] = task.consensus.percentage
            if task.consensus.assignees is not None:
                meta["consensusAssignees"] = task.consensus.assignees
        if task.groups is not None:
            meta["groups"] = list(task.groups)
        return parts

    def from_platform(self, key: str, node: Node, ctx: ExportContext) -> dict[str, Any]:
        meta, names = node.metadata, ctx.names
        task: dict[str, Any] = {}
        if meta.get("taskType") == "qa":
            task["type"] = "qa"
        dataset = names.name(ResourceKind.DATASET, meta.get("datasetId"))
        if dataset is not None:
            task["dataset"] = dataset
            # A recipe is named within its dataset (compile resolves it only there).
            recipe = names.name(ResourceKind.RECIPE, meta.get("recipeId"), scope=meta["datasetId"])
            if recipe is not None:
                task["recipe"] = recipe
        # Typed where the value reads back exactly. Owner and workload are typed only when every
        # email is a member the project knows (plan checks typed emails against the members; a
        # UI-built task need not match them), else they stay raw metadata.
        owner = meta.get("taskOwner")
        if isinstance(owner, str) and owner and names.is_user(owner):
            task["owner"] = owner
        workload = meta.get("workload")
        if isinstance(workload, list) and workload and all(
                isinstance(e, dict) and set(e) == {"assigneeId", "load"} and isinstance(e["assigneeId"], str)
                and isinstance(e["load"], (int, float)) and not isinstance(e["load"], bool) and 0 <= e["load"] <= 100
                and names.is_user(e["assigneeId"]) for e in workload):
            emails = [e["assigneeId"] for e in workload]
            if len(set(emails)) == len(emails) and all(e["load"] == round(100 / len(emails), 2) for e in workload):
                task["assignees"] = emails  # the even split compile makes of `assignees`
            else:
                task["workload"] = [{"assignee": e["assigneeId"], "load": e["load"]} for e in workload]
        number = meta.get("priority")
        priority = PRIORITY_NAMES.get(number) if isinstance(number, (int, float)) else None  # type: ignore[arg-type]
        if priority is not None:
            task["priority"] = priority
        due = due_date_text(meta.get("dueDate"))
        if due is not None:
            task["dueDate"] = due
        for attr in ("batchSize", "maxBatchWorkload"):
            if isinstance(meta.get(attr), int) and not isinstance(meta.get(attr), bool):
                task[attr] = meta[attr]
        if isinstance(meta.get("consensusTaskType"), str) and meta["consensusTaskType"]:
            consensus: dict[str, Any] = {"type": meta["consensusTaskType"]}
            if isinstance(meta.get("consensusPercentage"), (int, float)):
                consensus["percentage"] = meta["consensusPercentage"]
            if isinstance(meta.get("consensusAssignees"), int):
                consensus["assignees"] = meta["consensusAssignees"]
            task["consensus"] = consensus
        if isinstance(meta.get("groups"), list) and all(isinstance(g, str) and g for g in meta["groups"]):
            task["groups"] = list(meta["groups"])
        actions = next((p.actions for p in node.outputs if p.actions), None)
        if actions and actions != TASK_DEFAULT_ACTIONS[task.get("type", "annotation")]:
            task["actions"] = list(actions)
        return {"task": task} if task else {}

    def spec_view(self, view: SpecView, names: NameLookup) -> None:
        view.drop_fixed({**PIPELINE_UTILS, "functionName": "move_to_task"})
        view.take("task.type", "metadata.taskType", nonempty_str)
        view.named("task.dataset", ResourceKind.DATASET, "metadata.datasetId", None, names)
        view.named("task.recipe", ResourceKind.RECIPE, "metadata.recipeId", "metadata.recipeTitle", names)
        view.take("task.owner", "metadata.taskOwner", nonempty_str)
        view.take("task.workload", "metadata.workload", _workload)
        view.take("task.priority", "metadata.priority", _int_choice(PRIORITY_NAMES))
        view.take("task.dueDate", "metadata.dueDate", due_date_text)
        view.take("task.batchSize", "metadata.batchSize")
        view.take("task.maxBatchWorkload", "metadata.maxBatchWorkload")
        view.take("task.consensus.type", "metadata.consensusTaskType")
        view.take("task.consensus.percentage", "metadata.consensusPercentage")
        view.take("task.consensus.assignees", "metadata.consensusAssignees")
        view.take("task.groups", "metadata.groups")
        # `task.actions` sets the actions of the task's output port (`default_outputs`).
        outputs: dict[str, Any] = view.node["outputs"] if isinstance(view.node.get("outputs"), dict) else {}
        acting = [name for name, port in outputs.items() if isinstance(port, dict) and "actions" in port]
        if len(acting) == 1 and view.usable(f"outputs.{acting[0]}.actions"):
            view.put("task.actions", outputs[acting[0]]["actions"], f"outputs.{acting[0]}.actions")

    def summary(self, view: dict[str, Any]) -> list[tuple[str, Any]]:
        task = view.get("task")
        if not isinstance(task, dict):
            return []
        return [(f, task[f]) for f in ("type", "dataset", "recipe") if f in task]

    def run(self, node: dict[str, Any], inputs: dict[str, Any], ctx: RunContext) -> RunOutcome:
        # The item enters the node's task and waits there: an item status with an action
        # (completed, discard, ...) ends this execution and picks the connections of that action.
        item = inputs.get("item")
        if not isinstance(item, str):
            return RunOutcome(status="failed", message=f"task node {node.get('name')!r} received no item")
        if not ctx.enter_task(str(node.get("id")), item):
            return RunOutcome(status="failed", message=f"task node {node.get('name')!r} has no task "
                                                       "(install creates it when its dataset is in the project)")
        return RunOutcome(status="in-progress")


TYPE = Task()
