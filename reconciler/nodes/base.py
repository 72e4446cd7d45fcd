"""What a node type module provides (`NodeType`), and what the modules share.

One module per node type (pre-commit's `languages/`): the type's spec model, default ports, the
checks validate runs on it, how compile turns it into the platform's node (`to_platform`), how
export reads a live node back (`from_platform`), how a plan shows a platform node in spec words
(`spec_view`) and its normalisation rules. Everything the type needs from outside comes in through
the small protocols below, so a type module never imports compile, export or the diff.

Pure: no file, environment, clock or HTTP, even at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from reconciler.backend import Resolved, ResourceKind
from reconciler.document import Node
from reconciler.spec.fields import PortSpec
from reconciler.spec.finding import Finding
from reconciler.spec.suggest import Hints

if TYPE_CHECKING:
    from reconciler.nodes.view import NameLookup, SpecView
    from reconciler.spec.models import AnyNode

# The namespace of nodes run by the platform's own pipeline-utils service (dataset, task and
# updateVariable nodes): compile writes it, the plan's spec view leaves it out where it is exactly this.
PIPELINE_UTILS = {"projectName": "DataloopTasks", "serviceName": "pipeline-utils"}

ITEM_PORT = PortSpec(name="item", type="Item")


@dataclass
class PlatformParts:
    """The platform fields a node type generates from its typed spec fields; compile deep-merges
    the spec's raw `namespace` / `metadata` / `config` / `raw` over them."""

    type: str  # the platform's node type (`storage` for a spec's `dataset`)
    namespace: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=lambda: {"repeatable": True})
    config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # further top-level node fields (custom: appName)


class CompileContext(Protocol):
    """What `to_platform` may ask of the compile in progress."""

    @property
    def project_name(self) -> str | None: ...

    def code_of(self, key: str) -> str | None:
        """The code a code node runs (its `source:` file's text, read by the loader), if known."""
        ...

    def resolve(self, kind: ResourceKind, name: str, pointer: str, *, scope: str | None = None) -> Resolved | None:
        """`name` resolved to an object; None (and an error recorded at `pointer`) when unknown."""
        ...


class ExportNames(Protocol):
    """How export writes ids as names (`export._Names`): only where the name reads back to the id."""

    def name(self, kind: ResourceKind, ident: Any, *, scope: str | None = None) -> str | None: ...

    def is_user(self, email: str) -> bool: ...


@dataclass
class ExportContext:
    """What `from_platform` is given: the id -> name reader, and where a code node's code goes
    (`code_path` relative to the spec, collected in `code_files`; None: inline `code:`)."""

    names: ExportNames
    code_path: str | None = None
    code_files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeChecks:
    """What a node type's checks may use: `needs_variable(pointer, name, wanted type or None)`
    records a finding when the pipeline lacks the variable, and `hints` suggests spellings."""

    needs_variable: Callable[[str, str, str | None], None]
    hints: Hints


@dataclass(frozen=True)
class GraphFacts:
    """What a node type's install checks may know of the pipeline: whether the spec is to be
    installed (not paused) and which nodes have incoming connections."""

    installed: bool
    targeted: frozenset[str]


@dataclass(frozen=True)
class CodeRef:
    """A node's code: inline text or a `source:` path relative to its spec file (the loader reads it)."""

    inline: str | None
    source: str | None


# How the platform's 400 messages begin.
INVALID_INPUT = "Invalid input specified"


# -- running a node locally (the execution engine calls `NodeType.run`) ------------------------


@dataclass(frozen=True)
class CodeResult:
    """What a node's code did in its own process: its outputs by port name, its captured log, and
    the error (a traceback, or why it was stopped) when it failed."""

    outputs: dict[str, Any]
    log: str
    error: str | None = None


@dataclass(frozen=True)
class RunOutcome:
    """One node execution's end: `success` (values flow on from `outputs`, by output port name;
    a port whose value is None emits nothing; `action` picks the connections of that action),
    `failed` (`message` says why), `in-progress` (the item waits, in a task) or `pending`
    (nothing here can run the node; `message` says so)."""

    status: str
    outputs: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    log: str = ""
    action: str | None = None


class RunContext(Protocol):
    """What a node type's `run` may do in the local control plane; the engine implements it."""

    def place_item(self, item_id: str, *, dataset_id: str, folder: str | None, clone: bool) -> str:
        """The item moved (or cloned) into `dataset_id` and `folder`; the id of the item now there."""
        ...

    def enter_task(self, node_id: str, item_id: str) -> bool:
        """Queue the item in the task of task node `node_id`; False when the node has no task."""
        ...

    def run_code(self, code: str, function: str, inputs: list[dict[str, Any]],
                 outputs: list[dict[str, Any]]) -> CodeResult:
        """Run `function` of `code` in a separate process with these input ports (each with its
        `value`); its result split over these output ports."""
        ...

    def run_service(self, namespace: dict[str, Any], inputs: list[dict[str, Any]],
                    outputs: list[dict[str, Any]]) -> CodeResult:
        """Run the function a node's namespace names (`serviceName`, `functionName`) from the code
        package deployed as that service, the same way as `run_code`."""
        ...

    def variables(self) -> dict[str, Any]:
        """The pipeline's variables now: name -> value."""
        ...

    def run_model(self, model_id: str, function: str, inputs: list[dict[str, Any]],
                  outputs: list[dict[str, Any]]) -> CodeResult | None:
        """Run the model function (`predict`, ...) with the model's local adapter, the same way as
        `run_code`; None when no adapter is registered for the model."""
        ...

    def set_variables(self, values: dict[str, Any]) -> None:
        """Give these pipeline variables (by name) these values: the pipeline document shows them
        (`pipeline.variables`), and the nodes that run after read them."""
        ...


class NodeType:
    """One node type. Subclasses set the class attributes and override what their type does
    differently; the defaults are those of a node the platform runs without typed fields.

    (The execution engine adds each type's local run behaviour here.)
    """

    spec_type: ClassVar[str]  # the word a spec writes (`dataset`)
    platform_type: ClassVar[str]  # the platform's word (`storage`)
    model: ClassVar[type[Any]]  # the pydantic spec model (reconciler.spec.models)
    # Fields named next to the type when a node is added or removed (`dataset node 'x' (dataset "a")`).
    summary_fields: ClassVar[tuple[str, ...]] = ()
    # Namespace / metadata keys the platform generates at install and that are never compared.
    server_namespace: ClassVar[frozenset[str]] = frozenset()
    server_metadata: ClassVar[frozenset[str]] = frozenset()
    # Settings objects whose fields decide the node's ports (a task's `task.type` and `task.actions`
    # make its output's actions): name -> those fields. A schema error there makes the salvaged
    # node a placeholder; elsewhere in the object only the bad field is dropped.
    port_settings: ClassVar[dict[str, tuple[str, ...]]] = {}
    # The field naming a pipeline variable the node reads its resource from, and the variable's type.
    variable_field: ClassVar[tuple[str, str] | None] = None
    # Whether items wait here for people (a task): a loop through such a node ends, any other loop
    # is endless and the platform refuses it.
    waits: ClassVar[bool] = False
    # The schema's cross-field rules: exactly one of two string fields, or not both of them.
    schema_exactly_one: ClassVar[tuple[str, str] | None] = None
    schema_not_both: ClassVar[tuple[str, str] | None] = None

    def default_inputs(self, node: AnyNode) -> list[PortSpec]:
        return [ITEM_PORT]

    def default_outputs(self, node: AnyNode) -> list[PortSpec]:
        return [ITEM_PORT]

    def findings(self, key: str, node: AnyNode, base: str, checks: NodeChecks) -> list[Finding]:
        """Problems of this node's typed fields (`base`: the node's JSON pointer)."""
        if self.variable_field is not None:
            field, wanted = self.variable_field
            name = getattr(node, field)
            if name is not None:
                checks.needs_variable(f"{base}/{field}", name, wanted)
        return []

    def install_findings(self, key: str, node: AnyNode, base: str, graph: GraphFacts) -> list[Finding]:
        """What the platform refuses when it installs this node in its graph."""
        return []

    def install_refusal(self, node: Node, *, targeted: bool) -> str | None:
        """The platform's own message when it refuses to install this live node (`targeted`: a
        connection comes in), or None: what the local control plane answers at install, the
        platform-side twin of `install_findings`."""
        return None

    def names(self, node: AnyNode) -> list[tuple[ResourceKind, str]]:
        """The names `to_platform` resolves (so a resolver can fetch them in one batch)."""
        return []

    def to_platform(self, key: str, node: AnyNode, ctx: CompileContext) -> PlatformParts:
        """The platform fields generated from the typed spec fields (names resolved through `ctx`)."""
        return PlatformParts(type=self.platform_type)

    def keep_live(self, node: AnyNode, parts: PlatformParts, matched: Node) -> None:
        """Carry into `parts` what the platform generated on the live node `matched` and an
        update must keep (it is not the spec's to say)."""

    def from_platform(self, key: str, node: Node, ctx: ExportContext) -> dict[str, Any]:
        """The typed spec fields read back from a live node (type, id, name and description are
        written by the caller; raw overrides are computed afterwards)."""
        return {}

    def spec_view(self, view: SpecView, names: NameLookup) -> None:
        """Read the platform node in `view` as this type's spec fields (`view.take` / `view.put`)."""

    def code(self, node: AnyNode) -> CodeRef | None:
        """The code this node runs, for the loader to read (None: the type runs no code of the spec's)."""
        return None

    def summary(self, view: dict[str, Any]) -> list[tuple[str, Any]]:
        """(field, value) pairs that say what a node (its spec view) is about."""
        return [(f, view[f]) for f in self.summary_fields if f in view]

    def sets_variables(self, node: Node) -> list[str]:
        """The pipeline variables the platform node `node` sets while cycles run: from the first
        run their values are the running pipeline's state, not the spec's (see normalize, compile)."""
        return []

    def items_dataset(self, node: dict[str, Any]) -> str | None:
        """The dataset whose items the platform node `node` starts from (its item triggers fire for
        that dataset's items, `loadExistingData` reads them); None for a type that holds none."""
        return None

    def run(self, node: dict[str, Any], inputs: dict[str, Any], ctx: RunContext) -> RunOutcome:
        """Run the platform node `node` locally on `inputs` (input port name -> value). A type
        without a local runner stops the item here, saying so: never a pretended success."""
        return RunOutcome(status="pending", message=no_runner(node))


def no_runner(node: dict[str, Any]) -> str:
    return f"pending: no local runner for {node.get('type')} node {node.get('name')!r}"
