"""Where secrets sit: compile records paths and templates (never values) in the marker; reading a
live pipeline gives back what stands where each reference stands, whatever it is now."""

from __future__ import annotations

from coretools import DictResolver, InlineSpec, applied, pipeline_spec

from reconciler.compile import compile_spec
from reconciler.document import Pipeline
from reconciler.marker import read_marker
from reconciler.secret_paths import Hidden, recorded_secrets

SECRETS = {"env.TOKEN": "tok-1234-old", "hook": "hook-5678-old"}


def _applied_with_secrets() -> Pipeline:
    spec = pipeline_spec(
        {"src": {"type": "dataset", "dataset": "frames"},
         "hook": {"type": "custom", "app": "webhook",
                  "nodeConfig": {"url": "https://x/${y}?a=tok-1234-old&b=hook-5678-old", "retries": 3}}},
        [{"from": "src", "to": "hook", "filter": {"metadata.user.token": "tok-1234-old"}}],
        variables=[{"name": "token", "type": "String", "value": "Bearer tok-1234-old"}])
    compiled = compile_spec(InlineSpec(spec), project_id="proj-1", resolver=DictResolver(provision=True),
                            live=None, project_name="local", secrets=SECRETS)
    return applied(compiled)


def test_the_marker_records_paths_and_references_never_values() -> None:
    marker = read_marker(_applied_with_secrets())
    assert marker is not None
    assert marker.secrets == {
        "/connections/src.item -> hook.item/filter/metadata.user.token": "${env.TOKEN}",
        "/nodes/hook/metadata/customNodeConfig/url": "https://x/$${y}?a=${env.TOKEN}&b=${var.hook}",
        "/variables/token/value": "Bearer ${env.TOKEN}",
    }


def test_live_values_at_recorded_paths_are_found_whatever_they_are_now() -> None:
    live = _applied_with_secrets()
    rotated = live.wire()
    hook = next(n for n in rotated["nodes"] if n["name"] == "hook")
    hook["metadata"]["customNodeConfig"]["url"] = "https://x/${y}?a=tok-9999-new&b=hook-0000-new"
    rotated["connections"][0]["condition"] = '{"metadata.user.token": "edited by hand"}'
    for var in rotated["variables"]:
        if var["name"] == "token":
            var["value"] = "Basic c2VjcmV0"  # no longer fits `Bearer ${env.TOKEN}`: secret as a whole
    found = recorded_secrets(Pipeline.model_validate(rotated))
    assert found == [
        Hidden("edited by hand", "${env.TOKEN}"),
        Hidden("tok-9999-new", "${env.TOKEN}"),
        Hidden("hook-0000-new", "${var.hook}"),
        Hidden("Basic c2VjcmV0", "Bearer ${env.TOKEN}"),
    ]


def test_a_pipeline_without_recorded_secrets_is_read_with_the_specs_paths() -> None:
    live = _applied_with_secrets()
    marker = read_marker(live)
    assert marker is not None
    unmarked = live.model_copy(update={"variables": [v for v in live.variables if v.name != "loopform"]})
    assert recorded_secrets(unmarked) == []
    assert Hidden("tok-1234-old", "${env.TOKEN}") in recorded_secrets(unmarked, also=marker.secrets)
