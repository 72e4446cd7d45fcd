"""`loopform export [--project P] [NAME...] [-o DIR]`: live pipelines -> spec files (adoption)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from reconciler.commands._selected import selected_project
from reconciler.project_paths import project_root
from reconciler.connection import add_backend_arguments, environment_from_args
from reconciler.errors import EXIT_OK, ConfigError, NotFound
from reconciler.export import export_pipeline
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="pipeline names (default: all in the project)")
    parser.add_argument("-o", "--output", metavar="DIR",
                        help="write <name>.yaml files (and snippets/ for code) into DIR; "
                             "default: print the YAML, with code inline")
    parser.add_argument("--force", action="store_true", help="overwrite existing files in DIR")
    add_backend_arguments(parser)


def _write(path: Path, text: str, *, force: bool) -> None:
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; use --force to overwrite it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc


def schema_reference(out_dir: Path) -> str | None:
    """`schemas/pipeline.schema.json` of the project `out_dir` lies in, relative to `out_dir`
    (editors resolve `$schema` from the file); None when the project has no such file: printed
    YAML, or a repository without the schema, gets no reference rather than one that leads nowhere."""
    where = out_dir.resolve()
    target = project_root(where) / "schemas" / "pipeline.schema.json"
    return Path(os.path.relpath(target, where)).as_posix() if target.is_file() else None


def run(args: argparse.Namespace, term: Terminal) -> int:
    out_dir = Path(args.output) if args.output else None
    # A secret of the selected environment found in a live value is written as its ${var.NAME}:
    # the spec is meant to be committed, and it then applies the same value back. (Values the
    # marker records as secret, ${env.*} ones included, are written as their reference too.)
    secrets = {value: f"${{var.{name}}}" for name, value in environment_from_args(args, term).secrets().items()}
    with selected_project(args, term) as (backend, project):
        live = {p.name: p for p in backend.list_pipelines(project.id)}
        missing = [n for n in args.names if n not in live]
        if missing:
            raise NotFound(f"no pipeline named {', '.join(map(repr, missing))} in project {project.name!r}",
                           status=404)
        chosen = [live[n] for n in (args.names or sorted(live))]
        # One resolver for all: each dataset, recipe and model id is looked up once.
        resolver = backend.resolver(project.id)
        schema = schema_reference(out_dir) if out_dir else None
        exported = [export_pipeline(p, project=project.name, project_id=project.id,
                                    code_dir="snippets" if out_dir else None, resolver=resolver, secrets=secrets,
                                    schema=schema)
                    for p in chosen]
    if out_dir is not None:
        names = [e.filename for e in exported]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise ConfigError(f"several pipelines would be written to {', '.join(clashes)}; export them one by one")
    for ex in exported:
        for line in ex.residue:
            term.eprint(f"warning: {ex.name}: not expressible in the spec, plan will show it: {line}")
        if out_dir is None:
            term.print(ex.text if len(exported) == 1 else f"---\n{ex.text}")
            continue
        _write(out_dir / ex.filename, ex.text, force=args.force)
        for rel, text in sorted(ex.files.items()):
            _write(out_dir / rel, text, force=args.force)
        term.eprint(f"Wrote {out_dir / ex.filename}" + (f" and {len(ex.files)} code file(s)" if ex.files else ""))
    if not exported:
        term.eprint(f"No pipelines in project {project.name!r}.")
    return EXIT_OK
