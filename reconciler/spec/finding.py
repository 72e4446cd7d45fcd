"""A problem found in a spec, before it has a file location (pure, no imports of its own)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """A problem found in a spec, at a JSON pointer into the spec document."""

    pointer: str
    message: str
    severity: str = "error"  # "error" | "warning"
