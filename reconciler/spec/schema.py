"""The published JSON Schema (2020-12) of the spec, derived from the pydantic models.

The models are the source; this module adds what pydantic cannot infer from types alone: the
cross-field rules the models enforce in validators (exactly one of `code`/`source`, of trigger
`event`/`cron`; not both `assignees` and `workload`, nor `model` and `modelVariable`), the due-date
and the cron patterns (the models check cron field by field, for a message naming the field), and `additionalProperties: false` beside `patternProperties` for node keys.
`schemas/pipeline.schema.json` is the published copy; a test keeps it equal to `schema()` and
proves on a corpus that the schema and the models accept the same documents.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

from reconciler import nodes
from reconciler.spec.cron import CRON_PATTERN
from reconciler.spec.models import DUE_DATE_PATTERN, PipelineSpec
from reconciler.spec.module_models import ModuleSpec, ModuleUse

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _exactly_one(a: str, a_type: str, b: str, b_type: str) -> dict[str, Any]:
    """Exactly one of two optional fields is set (null counts as unset, as in the models)."""
    has_a = {"required": [a], "properties": {a: {"type": a_type}}}
    has_b = {"required": [b], "properties": {b: {"type": b_type}}}
    return {"anyOf": [has_a, has_b], "not": _both(a, a_type, b, b_type)}


def _both(a: str, a_type: str, b: str, b_type: str) -> dict[str, Any]:
    return {"required": [a, b], "properties": {a: {"type": a_type}, b: {"type": b_type}}}


def _close_pattern_properties(node: Any) -> None:
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_pattern_properties(value)
    elif isinstance(node, list):
        for value in node:
            _close_pattern_properties(value)


@functools.cache
def _build() -> str:
    generated = PipelineSpec.model_json_schema(by_alias=True, mode="validation")
    defs = generated["$defs"]
    for kind in nodes.ALL:  # each node type's cross-field rules, which pydantic does not export
        if kind.schema_exactly_one is not None:
            defs[kind.model.__name__]["allOf"] = [_exactly_one(kind.schema_exactly_one[0], "string",
                                                               kind.schema_exactly_one[1], "string")]
        if kind.schema_not_both is not None:
            defs[kind.model.__name__]["not"] = _both(kind.schema_not_both[0], "string",
                                                     kind.schema_not_both[1], "string")
    defs["TriggerSpec"]["allOf"] = [_exactly_one("event", "object", "cron", "string")]
    defs["TaskSpec"]["not"] = _both("assignees", "array", "workload", "array")
    due = defs["TaskSpec"]["properties"]["dueDate"]
    due.pop("anyOf", None)
    due["anyOf"] = [{"type": "string", "pattern": DUE_DATE_PATTERN}, {"type": "null"}]
    cron = defs["TriggerSpec"]["properties"]["cron"]
    cron["anyOf"] = [{"type": "string", "pattern": CRON_PATTERN}, {"type": "null"}]
    _add_module_uses(generated)
    _add_for_each(generated)
    _close_pattern_properties(generated)
    schema = {
        "$schema": SCHEMA_DIALECT,
        "title": "Loopform pipeline spec (loopform/v1)",
        "description": (
            "One Dataloop pipeline kept in git. Validate with `loopform validate`; reference this "
            "schema from YAML with `# yaml-language-server: $schema=../schemas/pipeline.schema.json`."
        ),
        **{k: v for k, v in generated.items() if k not in ("title", "description")},
    }
    return json.dumps(schema, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def _add_module_uses(generated: dict[str, Any]) -> None:
    """A spec's nodes may be module uses (expanded by the loader before the models see them)."""
    defs = generated["$defs"]
    use = ModuleUse.model_json_schema(by_alias=True, mode="validation")
    defs["ModuleUse"] = {k: v for k, v in use.items() if k != "title"}
    nodes = defs["PipelineBody"]["properties"]["nodes"]
    ((_, alternatives),) = nodes["patternProperties"].items()
    alternatives["oneOf"].append({"$ref": "#/$defs/ModuleUse"})


def _add_for_each(generated: dict[str, Any]) -> None:
    """`forEach:` is read by the loader (reconciler.spec.for_each) before the models see a copy per entry."""
    generated["properties"] = {"forEach": {
        "description": "One pipeline per entry: a mapping (key -> values) or a list of strings; "
                       "${each.key} and ${each.value} / ${each.value.FIELD} are usable in every value.",
        "examples": [{"cars": {"dataset": "cars-raw"}, "bikes": {"dataset": "bikes-raw"}}],
        "oneOf": [{"type": "object", "minProperties": 1},
                  {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1,
                   "uniqueItems": True}],
    }, **generated["properties"]}


@functools.cache
def _build_module() -> str:
    pipeline = json.loads(_build())
    generated = ModuleSpec.model_json_schema(by_alias=True, mode="validation")
    defs = generated["$defs"]
    for name, definition in pipeline["$defs"].items():
        defs.setdefault(name, definition)
    body = defs["ModuleBody"]["properties"]
    body["nodes"]["patternProperties"] = pipeline["$defs"]["PipelineBody"]["properties"]["nodes"]["patternProperties"]
    body["nodes"].pop("additionalProperties", None)
    body["nodes"]["examples"] = [{"label": {"type": "task", "task": {"type": "annotation",
                                                                      "dataset": "${input.dataset}",
                                                                      "recipe": "default"}}}]
    body["connections"]["items"] = {"$ref": "#/$defs/ConnectionSpec"}
    body["connections"]["examples"] = [[{"from": "label", "to": "review"}]]
    _close_pattern_properties(generated)
    schema = {
        "$schema": SCHEMA_DIALECT,
        "title": "Loopform module (loopform/v1)",
        "description": (
            "A sub-graph used as a node of pipelines (`type: module`). Reference this schema from "
            "YAML with `# yaml-language-server: $schema=../../schemas/module.schema.json`."
        ),
        **{k: v for k, v in generated.items() if k not in ("title", "description")},
    }
    return json.dumps(schema, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def module_schema_text() -> str:
    """The module file schema as published in `schemas/module.schema.json`."""
    return _build_module()


def schema() -> dict[str, Any]:
    """The JSON Schema of a spec document, as a fresh dict."""
    return copy.deepcopy(json.loads(_build()))


def schema_text() -> str:
    """The schema as published in `schemas/pipeline.schema.json` (2-space JSON, final newline)."""
    return _build()
