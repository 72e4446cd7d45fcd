"""The dataset node (platform `storage`): items enter the pipeline or are stored here.

Run by the platform's pipeline-utils service: `dataset_handler` passes items on, `clone_item`
copies them into the dataset (exported clone nodes name the module and package explicitly).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints

from reconciler.backend import ResourceKind
from reconciler.document import Node, compact_json, parse_json_text
from reconciler.nodes.base import (
    PIPELINE_UTILS,
    CompileContext,
    ExportContext,
    INVALID_INPUT,
    GraphFacts,
    NodeType,
    PlatformParts,
    RunContext,
    RunOutcome,
)
from reconciler.nodes.view import NameLookup, SpecView, nonempty_str
from reconciler.spec.fields import DqlFilter, NodeSpecBase, NonEmpty, SpecModel
from reconciler.spec.finding import Finding

if TYPE_CHECKING:
    from reconciler.spec.models import AnyNode


# -- the spec model -------------------------------------------------------------------------------

class LoadExistingSpec(SpecModel):
    """Load items already in the dataset when the pipeline is installed, optionally filtered."""

    filter: DqlFilter | None = Field(
        default=None,
        description="DQL filter choosing which existing items are loaded.",
        examples=[{"dir": "/incoming"}],
    )


class DatasetNode(NodeSpecBase):
    """A dataset (platform `storage`) node: items enter or are stored here."""

    type: Literal["dataset"] = Field(description="Node type.", examples=["dataset"])
    dataset: NonEmpty | None = Field(
        default=None,
        description="Dataset name in the project (optional for templates using `datasetVariable`).",
        examples=["raw-videos"],
    )
    folder: Annotated[str, StringConstraints(pattern=r"^/")] | None = Field(
        default=None, description="Folder in the dataset (starts with `/`).", examples=["/incoming"]
    )
    loadExisting: bool | LoadExistingSpec | None = Field(
        default=None,
        description="Run the pipeline on items already in the dataset at install: true, or a filter.",
        examples=[True, {"filter": {"dir": "/incoming"}}],
    )
    operation: Literal["handle", "clone"] = Field(
        default="handle",
        description="handle: pass items on (dataset_handler); clone: copy items here (clone_item).",
        examples=["clone"],
    )
    datasetVariable: NonEmpty | None = Field(
        default=None,
        description="Pipeline variable (type Dataset) naming the dataset.",
        examples=["source-dataset"],
    )


# -- the type -------------------------------------------------------------------------------------


def _load_existing(value: Any) -> Any:
    if not isinstance(value, dict) or value.get("active") is not True or set(value) - {"active", "filter"}:
        return None
    flt = value.get("filter")
    if isinstance(flt, str):
        try:
            parsed = json.loads(flt)
        except ValueError:
            return None
        # Only the text compile writes reads back exactly; any other spelling stays raw, so a
        # change of spelling alone is still shown.
        if compact_json(parsed) != flt:
            return None
        flt = parsed
    return {"filter": flt} if isinstance(flt, dict) and flt else True


class Dataset(NodeType):
    spec_type = "dataset"
    platform_type = "storage"
    variable_field = ("datasetVariable", "Dataset")
    model = DatasetNode
    summary_fields = ("dataset", "folder")

    def names(self, node: AnyNode) -> list[tuple[ResourceKind, str]]:
        assert isinstance(node, DatasetNode)
        return [(ResourceKind.DATASET, node.dataset)] if node.dataset is not None else []

    def install_findings(self, key: str, node: AnyNode, base: str, graph: GraphFacts) -> list[Finding]:
        assert isinstance(node, DatasetNode)
        findings = []
        # Only when apply would install it: a paused spec may be a template whose datasets are
        # chosen later (real exported templates carry no dataset ids), and the platform refuses
        # the node at install, not when it is saved.
        raw = node.metadata or {}
        named = node.dataset is not None or node.datasetVariable is not None or bool(
            raw.get("datasetId") or raw.get("variableDataset"))  # export keeps ids it cannot name
        if not named and graph.installed:
            findings.append(Finding(
                base,
                f"dataset node '{key}' names no dataset: set `dataset` (or `datasetVariable`); the "
                "platform refuses to install a dataset node without a datasetId",
            ))
        if node.loadExisting and key in graph.targeted:
            findings.append(Finding(
                f"{base}/loadExisting",
                f"dataset node '{key}' loads existing data, so it must be where items enter: the "
                "platform refuses to install it with an incoming connection",
            ))
        return findings

    def install_refusal(self, node: Node, *, targeted: bool) -> str | None:
        metadata = node.metadata
        if not metadata.get("datasetId") and not metadata.get("variableDataset"):
            return f'{INVALID_INPUT}, Failed to install pipeline: node "{node.name}" must have a datasetId'
        load = metadata.get("triggerToPipeline")
        if isinstance(load, dict) and load.get("active") is True and targeted:
            return (f'{INVALID_INPUT}, Failed to install pipeline: node "{node.name}" loads existing '
                    "data and cannot have an incoming connection")
        return None

    def to_platform(self, key: str, node: AnyNode, ctx: CompileContext) -> PlatformParts:
        assert isinstance(node, DatasetNode)
        parts = PlatformParts(type=self.platform_type)
        meta = parts.metadata
        handler = "clone_item" if node.operation == "clone" else "dataset_handler"
        parts.namespace = {"functionName": handler, **PIPELINE_UTILS}
        if node.operation == "clone":
            # Exported clone nodes name the module and package explicitly; handler ones do not.
            parts.namespace.update(moduleName="default_module", packageName="pipeline-utils")
        if node.dataset is not None:
            found = ctx.resolve(ResourceKind.DATASET, node.dataset, f"/spec/nodes/{key}/dataset")
            if found:
                meta["datasetId"] = found.id
        if node.folder is not None:
            meta["dir"] = node.folder
        if node.loadExisting:
            trigger: dict[str, Any] = {"active": True}
            if not isinstance(node.loadExisting, bool) and node.loadExisting.filter is not None:
                trigger["filter"] = compact_json(node.loadExisting.filter)
            meta["triggerToPipeline"] = trigger
        if node.datasetVariable is not None:
            meta["variableDataset"] = node.datasetVariable
        return parts

    def from_platform(self, key: str, node: Node, ctx: ExportContext) -> dict[str, Any]:
        ns, meta = node.namespace, node.metadata
        out: dict[str, Any] = {}
        dataset = ctx.names.name(ResourceKind.DATASET, meta.get("datasetId"))
        if dataset is not None:
            out["dataset"] = dataset
        if ns.functionName == "clone_item":
            out["operation"] = "clone"
        if isinstance(meta.get("dir"), str) and meta["dir"].startswith("/"):
            out["folder"] = meta["dir"]
        ttp = meta.get("triggerToPipeline")
        if isinstance(ttp, dict) and ttp.get("active") is True:
            flt = parse_json_text(ttp.get("filter"))
            out["loadExisting"] = {"filter": flt} if isinstance(flt, dict) and flt else True
        if isinstance(meta.get("variableDataset"), str) and meta["variableDataset"]:
            out["datasetVariable"] = meta["variableDataset"]
        return out

    def spec_view(self, view: SpecView, names: NameLookup) -> None:
        ns = view.namespace
        view.drop_fixed(PIPELINE_UTILS)
        view.named("dataset", ResourceKind.DATASET, "metadata.datasetId", None, names)
        view.take("folder", "metadata.dir", nonempty_str)
        view.take("loadExisting", "metadata.triggerToPipeline", _load_existing)
        view.take("datasetVariable", "metadata.variableDataset", nonempty_str)
        fn = ns.get("functionName")
        if fn == "clone_item" and view.usable("namespace.functionName", "namespace.moduleName",
                                              "namespace.packageName") \
                and ns.get("moduleName") == "default_module" and ns.get("packageName") == "pipeline-utils":
            view.put("operation", "clone", "namespace.functionName", "namespace.moduleName",
                     "namespace.packageName")
        elif fn == "dataset_handler" and view.usable("namespace.functionName") \
                and "moduleName" not in ns and "packageName" not in ns:
            view.put("operation", "handle", "namespace.functionName")

    def items_dataset(self, node: dict[str, Any]) -> str | None:
        found = (node.get("metadata") or {}).get("datasetId")
        return found if isinstance(found, str) else None

    def run(self, node: dict[str, Any], inputs: dict[str, Any], ctx: RunContext) -> RunOutcome:
        # The item goes into the node's dataset and folder: cloned by a clone node, else moved
        # (an item already there stays where it is).
        meta = node.get("metadata") or {}
        item, dataset_id = inputs.get("item"), meta.get("datasetId")
        if isinstance(item, str) and isinstance(dataset_id, str):
            clone = (node.get("namespace") or {}).get("functionName") == "clone_item"
            folder = meta.get("dir") if isinstance(meta.get("dir"), str) else None
            item = ctx.place_item(item, dataset_id=dataset_id, folder=folder, clone=clone)
        return RunOutcome(status="success", outputs={p.get("name"): item for p in node.get("outputs") or []})


TYPE = Dataset()
