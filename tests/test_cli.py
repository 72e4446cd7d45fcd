"""The CLI's one error boundary: how failures become messages and exit codes."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

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
