"""One module per CLI verb.

Each module defines NAME (the verb), HELP (one line), `add_arguments(parser)` and
`run(args, term) -> int`. `reconciler.cli` discovers them, so adding a verb touches no other file.
Commands return exit codes; they raise LoopformError subclasses for failures and let
`reconciler.cli` map them to exit codes.
"""
