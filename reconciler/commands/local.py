"""`loopform local seed FILE` / `loopform local token`: manage the local control plane's database."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.config import STATE_DB, STATE_DIR, default_state_db
from reconciler.settings_file import PROJECT_FILE
from reconciler.errors import ConfigError
from reconciler.server import ControlPlane
from reconciler.server.seed import SEED_FORMAT, apply_seed, load_seed
from reconciler.server.store import StoreError
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=None,
                        help=f"state database (default {STATE_DIR}/{STATE_DB} at the project root, the folder "
                             f"of {PROJECT_FILE}, else of .git, else this one; created if missing)")
    sub = parser.add_subparsers(dest="local_command", metavar="ACTION")
    sub.required = True
    seed = sub.add_parser("seed", help="load projects, members, datasets, recipes, models, services",
                          description="Load projects, members, datasets, recipes, models and services into "
                                      "the local database.",
                          epilog=SEED_FORMAT, formatter_class=argparse.RawDescriptionHelpFormatter)
    seed.add_argument("file", type=Path, metavar="FILE", help="a YAML or JSON seed file")
    token = sub.add_parser("token", help="print a fresh access token for the local control plane")
    token.add_argument("--email", help="whose token (default: the default local user)")
    token.add_argument("--ttl", type=int, default=24 * 3600, help="validity in seconds (default 1 day)")


def _open(db: Path) -> ControlPlane:
    try:
        return ControlPlane(db)
    except StoreError as exc:
        raise ConfigError(str(exc)) from exc


def run(args: argparse.Namespace, term: Terminal) -> int:
    args.db = args.db or default_state_db(Path.cwd())
    if args.local_command == "seed":
        seed = load_seed(args.file)  # validate before creating a database
        plane = _open(args.db)
        try:
            result = apply_seed(plane, seed)
        finally:
            plane.close()
        created = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in sorted(result.created.items()))
        kept = sum(result.kept.values())
        term.print(f"Seeded {args.db}: created {created or 'nothing'}; {kept} already present.")
        return 0
    if args.ttl <= 60:
        raise ConfigError("--ttl must be more than 60 seconds (dtlpy refuses tokens that expire sooner)")
    plane = _open(args.db)
    try:
        term.print(plane.mint_token(args.email, ttl_seconds=args.ttl))
    finally:
        plane.close()
    return 0
