"""The plan as JSON: the documented, versioned format of `loopform plan --json` and `-out FILE`.

Format (format_version 1) — a dump of `reconciler.plan.Plan`:

    {"format_version": 1, "created_at": ISO-8601, "backend": str,
     "spec_digests": {spec path: sha256},
     "summary": {"create": n, "update": n, "delete": n, "status": n, "has_changes": bool},
     "pipelines": [{"project", "project_id", "name", "pipeline_id", "actions": [create|update|delete|
                    pause|resume|reset|no-op], "desired": API document | null,
                    "changes": [{"path", "before", "after", "drift", "op": add|remove|change|rename,
                                 "platform": [{"path", "before", "after", "op"}] | null}],
                    "provisions": [{"kind", "name", "id", "provision", "extra"}],
                    "reset_token", "live_fingerprint", "reason", "spec_path"}],
     "spec_set": identity of the spec set planned for | null,
     "prunable": ["project/name" of managed pipelines no spec names: `--prune` would delete them],
     "outside_scope": ["project/name" of this set's pipelines from spec files not given: never pruned]}

A change's `path` and values are in spec terms (`nodes.label.task.recipe: "default" -> "strict"`,
`status: "installed" -> "paused"`); `platform` lists the API-document differences it stands for
(`nodes.label.metadata.recipeId` ids, `status: "Installed" -> "Uninstalled"`), null when the path
and values already are those. `summary` is derived (ignored when a saved plan is read back).
Fields are only ever added.
"""

from __future__ import annotations

import json

from reconciler.plan import Plan


def render_json(plan: Plan, *, include_desired: bool = True) -> str:
    data = json.loads(plan.to_json(indent=None))
    counts = plan.counts()
    data["summary"] = {**counts.model_dump(), "has_changes": plan.has_changes}
    if not include_desired:
        for p in data["pipelines"]:
            p.pop("desired", None)
    ordered = {k: data[k] for k in ("format_version", "created_at", "backend", "spec_digests", "summary", "pipelines",
                                    "spec_set", "prunable", "outside_scope")}
    return json.dumps(ordered, indent=2, ensure_ascii=False)
