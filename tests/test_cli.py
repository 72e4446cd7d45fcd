"""The CLI's one error boundary: how failures become messages and exit codes."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import _internal_error, main
from reconciler.errors import EXIT_BROKEN_PIPE, EXIT_INTERNAL
from reconciler.redact import Redactor, install
from reconciler.terminal import Terminal


def _term() -> Terminal:
    return Terminal(out=io.StringIO(), err=io.StringIO(), colour=False, unicode=False)


def test_a_reader_that_goes_away_is_not_a_crash(tmp_path: Path) -> None:
    # `loopform schema` prints ~88 KB, more than a pipe buffer holds, into a pipe whose reader
    # exits without reading: the write fails with EPIPE whichever process runs first.
    script = f'"{sys.executable}" -m reconciler schema | true; echo "rc=${{PIPESTATUS[0]}}" >&2'
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path,
                         timeout=60, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert f"rc={EXIT_BROKEN_PIPE}" in run.stderr
    assert "internal error" not in run.stderr
    assert "Traceback" not in run.stderr
    assert not list(tmp_path.glob("loopform-crash-*.log"))


def test_the_crash_log_is_redacted_like_the_terminal(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    term = _term()
    install(term, Redactor(["hunter2-secret-value"]))

    code = _internal_error(term, RuntimeError("boom while sending hunter2-secret-value"))

    assert code == EXIT_INTERNAL
    err = term.err.getvalue()
    assert "hunter2-secret-value" not in err
    log = Path(re.search(r"the traceback is in (\S+)", err).group(1))
    text = log.read_text()
    assert "RuntimeError" in text and "(sensitive)" in text
    assert "hunter2-secret-value" not in text


def test_usage_errors_exit_2_without_a_traceback() -> None:
    term = _term()
    assert main(["--no-such-flag"], term=term) == 2
    assert main(["validate", "--format", "xml"], term=term) == 2


def _modules_after(argv: list[str], cwd: Path) -> tuple[int, set[str]]:
    """Run `loopform ARGV` in a fresh interpreter; its exit code and the modules it imported."""
    script = ("import json, sys\n"
              "from reconciler.cli import main\n"
              "code = main(sys.argv[2:])\n"
              "open(sys.argv[1], 'w').write(json.dumps(sorted(sys.modules)))\n"
              "sys.exit(code)\n")
    listing = cwd / "modules.json"
    run = subprocess.run([sys.executable, "-c", script, str(listing), *argv], capture_output=True, text=True,
                         cwd=cwd, timeout=60)
    return run.returncode, set(json.loads(listing.read_text()))


HEAVY = ("requests", "urllib3", "reconciler.client", "reconciler.server", "reconciler.render",
         "reconciler.apply", "reconciler.planner", "sqlite3", "urllib.request", "http.client", "ssl")


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_version_help_and_validate_load_only_what_they_run(tmp_path: Path) -> None:
    (tmp_path / "pipelines").mkdir()
    spec = Path(__file__).parent.parent / "examples"
    for argv, expected in ((["--version"], 0), (["--help"], 0), ([], 0), (["validate", str(spec)], 0)):
        code, modules = _modules_after(argv, tmp_path)
        assert code == expected, argv
        loaded = _heavy(modules)
        assert loaded == [], (argv, loaded)
        # Nor the settings' models: validate without --env reads nothing but the files.
        assert "reconciler.config" not in modules, argv
        # Only the verb that runs is imported, never the others.
        verbs = sorted(m for m in modules if m.startswith("reconciler.commands.") and
                       not m.rsplit(".", 1)[1].startswith("_"))
        assert verbs == (["reconciler.commands.validate"] if argv[:1] == ["validate"] else []), argv


def test_validate_checks_the_test_files_beside_the_specs_without_the_test_runner(tmp_path: Path) -> None:
    # `loopform test`'s runner (sandboxes over HTTP) imports requests; checking a test file does not.
    code, modules = _modules_after(["validate", str(Path(__file__).parent.parent / "pipelines")], tmp_path)
    assert code == 0
    assert "reconciler.test_files" in modules and "reconciler.pipeline_tests" not in modules
    assert _heavy(modules) == []


def test_validate_builds_no_api_document_model(tmp_path: Path) -> None:
    # The API's document models (reconciler.document) are built on first use: validate imports
    # them for their constants but never validates a live document.
    spec = Path(__file__).parent.parent / "pipelines"
    script = ("import sys, pydantic\n"
              "from reconciler.cli import main\n"
              "from reconciler import document\n"
              "code = main(['validate', sys.argv[1]])\n"
              "built = [n for n, v in vars(document).items() if isinstance(v, type)\n"
              "         and issubclass(v, pydantic.BaseModel) and v.__pydantic_complete__]\n"
              "print(built)\n"
              "sys.exit(code)\n")
    run = subprocess.run([sys.executable, "-c", script, str(spec)], capture_output=True, text=True, cwd=tmp_path,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "[]"


def test_a_plan_with_a_token_loads_no_graph_renderer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The token is redacted in every form a renderer could print it in; the escapings live
    # apart from the renderers, so a text plan does not load the graph renderer and its models.
    from harness import isolate, serve_for_cli

    isolate(tmp_path, monkeypatch)
    spec = Path(__file__).parent.parent / "pipelines" / "nightly-quality.yaml"
    with serve_for_cli(tmp_path / "state.db", monkeypatch):
        code, modules = _modules_after(["plan", str(spec)], tmp_path)
    assert code == 0
    assert {"reconciler.planner", "reconciler.redact"} <= modules
    assert not {"reconciler.render.graph", "reconciler.render.markdown"} & modules


def test_every_verb_in_the_table_builds_its_parser() -> None:
    from reconciler.cli import COMMANDS, command_parser

    for command in COMMANDS:
        parser, run = command_parser(command)
        assert parser.prog == f"loopform {command.name}" and callable(run)
    # The table is the one list of verbs: every module in reconciler/commands is in it.
    modules = {p.stem for p in Path(__file__).parent.parent.joinpath("reconciler", "commands").glob("[a-z]*.py")}
    assert modules == {c.name for c in COMMANDS}


def test_bare_loopform_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([], term=_term()) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("usage: loopform") and "validate" in printed.out and "apply" in printed.out
    assert printed.err == ""


def test_a_mistyped_command_or_flag_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plna"], term=_term()) == 2
    assert "unknown command 'plna' (did you mean 'plan'?)" in capsys.readouterr().err

    assert main(["--verison"], term=_term()) == 2
    assert "did you mean '--version'" in capsys.readouterr().err

    assert main(["validate", "--fromat", "json"], term=_term()) == 2
    assert "unrecognized arguments: --fromat (did you mean '--format'?)" in capsys.readouterr().err

    assert main(["frobnicate"], term=_term()) == 2
    err = capsys.readouterr().err
    assert "unknown command 'frobnicate'" in err and "did you mean" not in err


def test_a_bad_flag_of_a_command_shows_that_commands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--no-such-flag"], term=_term()) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: loopform plan ")
    assert "loopform plan: error: unrecognized arguments: --no-such-flag" in err

    assert main(["plan", "-v"], term=_term()) == 2  # a global flag after the verb: say where it goes
    assert "-v goes before the command: loopform -v plan" in capsys.readouterr().err
