"""The shape of module files (kind `Module`) and of a module use (`type: module`), as typed pydantic
models: pure, so the JSON Schema (reconciler.spec.schema) derives from them. Expansion, which reads
the files, is reconciler.spec.modules.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from reconciler.spec.fields import API_VERSION, SpecModel
from reconciler.spec.values import describe

MODULE_KIND = "Module"
MODULE_TYPE = "module"  # the node type of a module use
InputName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")]
PortName = Annotated[str, StringConstraints(pattern=r"^[^.\s/][^./]*$")]
Endpoint = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_/-]*(\.[^.\s][^.]*)?$")]

INPUT_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "list": (list,),
    "map": (dict,),
}


class ModuleInput(SpecModel):
    """One input of a module: its type, and a default that makes it optional."""

    type: Literal["string", "number", "integer", "boolean", "list", "map"] = Field(
        default="string", description="The value's type.", examples=["string"])
    default: Any = Field(default=None, description="Value when a use gives none; without one the input "
                         "is required.", examples=["default"])
    description: str | None = Field(default=None, description="What the input is for.",
                                    examples=["Recipe of the labeling task"])

    @property
    def required(self) -> bool:
        return "default" not in self.model_fields_set

    @model_validator(mode="after")
    def _default_has_the_type(self) -> ModuleInput:
        if not self.required and not has_type(self.default, self.type):
            raise ValueError(f"the default {describe(self.default)} is not {_an(self.type)}")
        return self


class ModulePort(SpecModel):
    """A port the module exposes: an input (`to`: where arriving items go) or an output (`from`: the
    node port items leave, with an optional `action`)."""

    to: Endpoint | None = Field(default=None, description="Input port: the node (or `node.port`) "
                                "items entering the module go to.", examples=["label"])
    from_: Endpoint | None = Field(default=None, alias="from", description="Output port: the node "
                                   "(or `node.port`) items leave the module from.", examples=["review"])
    action: str | None = Field(default=None, description="With `from`: only items leaving with this "
                               "action.", examples=["approve"])
    description: str | None = Field(default=None, description="What passes through the port.",
                                    examples=["Items the reviewers approved"])

    @model_validator(mode="after")
    def _one_direction(self) -> ModulePort:
        if (self.to is None) == (self.from_ is None):
            raise ValueError("a port needs exactly one of `to` (an input) and `from` (an output)")
        if self.action is not None and self.from_ is None:
            raise ValueError("`action` belongs to an output port (one with `from`)")
        return self


class ModuleMetadata(SpecModel):
    """Which module this is."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(
        description="Module name (for messages).", examples=["label-review"])
    description: str | None = Field(default=None, description="What the module does.",
                                    examples=["Label items, review them, keep the approved ones"])


class ModuleBody(SpecModel):
    """The sub-graph: its inputs, nodes, connections and the ports a use exposes."""

    inputs: dict[InputName, ModuleInput] = Field(
        default_factory=dict, description="Typed inputs, given by each use under `with:`.",
        examples=[{"recipe": {"type": "string", "default": "default"}}])
    nodes: dict[str, dict[str, Any]] = Field(
        min_length=1, description="The nodes, by key, as in a pipeline; values may use ${input.NAME}.")
    connections: list[dict[str, Any]] = Field(
        default_factory=list, description="Edges between the module's node ports, as in a pipeline.")
    ports: dict[PortName, ModulePort] = Field(
        default_factory=dict, description="Ports a use exposes: connections reach them as `<use>.<port>`.",
        examples=[{"in": {"to": "label"}, "approved": {"from": "review", "action": "approve"}}])


class ModuleSpec(SpecModel):
    """A sub-graph used as a node of pipelines (`type: module`)."""

    apiVersion: Literal["loopform/v1"] = Field(description="Spec format version.", examples=[API_VERSION])
    kind: Literal["Module"] = Field(description="Document kind.", examples=[MODULE_KIND])
    metadata: ModuleMetadata = Field(description="Name and description.", examples=[{"name": "label-review"}])
    spec: ModuleBody = Field(description="Inputs, nodes, connections and exposed ports.",
                             examples=[{"nodes": {"label": {"type": "task", "task": {
                                 "type": "annotation", "dataset": "${input.dataset}", "recipe": "default"}}}}])


class ModuleUse(SpecModel):
    """A node that is a module instance."""

    type: Literal["module"] = Field(description="A module instance.", examples=[MODULE_TYPE])
    source: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="The module file (or a DPK `dataloop.json` manifest whose pipeline template is the "
        "module), relative to this file.", examples=["modules/label-review.yaml"])
    template: Annotated[str, StringConstraints(min_length=1)] | None = Field(
        default=None, description="With a `dataloop.json` source: the name of the pipeline template to "
        "use (needed when the manifest has several).", examples=["RAG Preprocessing Template"])
    with_: dict[str, Any] = Field(default_factory=dict, alias="with", description="Input values.",
                                  examples=[{"recipe": "boxes"}])


def _an(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def has_type(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind != "boolean":  # YAML true is not the number 1
        return False
    return isinstance(value, INPUT_TYPES[kind])


def is_module_document(data: Any) -> bool:
    return isinstance(data, dict) and data.get("kind") == MODULE_KIND
