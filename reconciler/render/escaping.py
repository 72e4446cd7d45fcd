"""How the renderers escape a value in each output format, apart from the renderers themselves:
redaction (`reconciler.redact`) matches each secret in these forms too, and loading a renderer for
that (the graph module, its layout and models) would slow every command that has a token."""

from __future__ import annotations


def mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid label only `"` and the entity introducer need escaping.
    return text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
