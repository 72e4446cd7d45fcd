"""Plan renderers: `text` (terminal, terraform-like), `jsonfmt` (versioned JSON), `markdown` (PR
comments). Each is a pure function Plan -> str; the commands decide where the text goes."""
