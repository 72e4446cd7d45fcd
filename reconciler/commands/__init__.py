"""One module per CLI verb.

Each module defines `add_arguments(parser)` and `run(args, term) -> int`; the verb's name and
one-line help are in `reconciler.cli.COMMANDS`, the one table of verbs, which imports a module only
when its verb runs. Commands return exit codes; they raise LoopformError subclasses for failures and
let `reconciler.cli` map them to exit codes. Keep a module's top-level imports to what the verb
needs: `validate` must not load requests or the server.
"""
