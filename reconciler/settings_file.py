"""Reading a small settings file (loopform.yaml, a `loopform local seed` file) into a pydantic model.

YAML goes through the spec files' reader (`reconciler.spec.source`): the same limits on size,
nesting depth and alias expansion, so a hostile or broken file is a located error, never a crash
(a deeply nested file made the plain YAML loaders raise RecursionError, or worse). A `.json` file is
read as JSON. Every problem is a ConfigError that starts with the file, and the line and column
where the YAML has them, including the first validation error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from reconciler.errors import ConfigError
from reconciler.spec.source import MAX_BYTES, SourceDocument, parse_text, read_bytes
from reconciler.spec.values import pointer_escape

PROJECT_FILE = "loopform.yaml"  # the project's settings (backend, environments, variables)

M = TypeVar("M", bound=BaseModel)


def load_settings_file(path: Path, model: type[M], *, what: str, max_bytes: int = MAX_BYTES) -> M:
    """`path` validated as `model`; an empty file is an empty mapping. `what` names the file's kind
    in messages ("project file", "seed file")."""
    shown = str(path)
    doc = SourceDocument(path=shown)
    raw = read_bytes(path, doc, limit=max_bytes)
    if raw is None:
        raise ConfigError(f"cannot read {what} {shown}: {doc.errors[0].message}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{shown}: not UTF-8 text (invalid byte at offset {exc.start})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ConfigError(f"{shown}: not valid JSON: {exc}") from None
    elif all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        data, doc = {}, SourceDocument(path=shown)
    else:
        doc = parse_text(text, shown)
        data = doc.data
        if isinstance(data, dict) and doc.errors or data is None:
            problem = doc.errors[0]
            raise ConfigError(f"{problem.location}: {problem.message}")
    if not isinstance(data, dict):
        raise ConfigError(f"{shown}: expected a mapping of settings at the top level ({what})")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = exc.errors()
        first = problems[0]
        where = doc.locate("".join(f"/{pointer_escape(str(p))}" for p in first["loc"]))
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ConfigError(f"{where if doc.marks else shown}: invalid {what}: {key}: {first['msg']}{more}") from None
