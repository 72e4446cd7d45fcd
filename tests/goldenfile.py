"""Golden files: rendered output compared with a file kept in the repository.

`UPDATE_GOLDEN=1 pytest ...` rewrites the files instead (review the diff before committing).
"""

from __future__ import annotations

import os
from pathlib import Path


def check_golden(path: Path, text: str) -> None:
    """Assert that `text` equals the golden file at `path` (or write it, under UPDATE_GOLDEN)."""
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"
