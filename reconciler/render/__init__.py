"""Outputs: the plan as `text` (terminal, terraform-like), `jsonfmt` (versioned JSON), `markdown` (PR
comments) and `graph` (Mermaid, SVG, PNG): pure functions Plan -> str (or bytes), the commands
decide where the text goes. `apply` holds apply's two views (text, JSON lines), which the apply
command feeds with the plan, the core's events and the result."""
