"""On a real terminal (a pty), apply and delete ask and take only 'yes'."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from specs import copy_examples


def _run_on_pty(cwd: Path, answer: bytes, *argv: str) -> tuple[int, str]:
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOPFORM_", "DATALOOP_"))}
    env.update(HOME=str(cwd), NO_COLOR="1")
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", *(argv or ("apply",))], cwd=cwd, env=env,
                            stdin=slave, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    seen = b""
    answered = False
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            proc.kill()
            pytest.fail(f"no output from {argv}; so far: {seen!r}")
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"Only 'yes' is accepted" in seen:
            os.write(master, answer)
            answered = True
    os.close(master)
    proc.wait(timeout=30)
    assert proc.stderr is not None
    proc.stderr.close()
    return proc.returncode, seen.decode("utf-8", "replace")


@pytest.mark.parametrize(("answer", "code", "expected"), [
    (b"yes\n", 0, "Apply complete: 3 done"),
    (b"no\n", 1, ""),
])
def test_confirmation_on_a_terminal(tmp_path: Path, answer: bytes, code: int, expected: str) -> None:
    copy_examples(tmp_path)
    rc, output = _run_on_pty(tmp_path, answer)
    assert rc == code, output
    assert "Plan: 3 to create" in output
    assert expected in output
    if code == 0:
        assert "local/video-frames: created" in output  # live progress lines on a TTY
    else:
        assert "Apply complete" not in output


@pytest.mark.parametrize(("answer", "code", "left"), [(b"yes\n", 0, 2), (b"y\n", 1, 3)])
def test_delete_asks_on_a_terminal(tmp_path: Path, answer: bytes, code: int, left: int) -> None:
    copy_examples(tmp_path)
    assert _run_on_pty(tmp_path, b"yes\n")[0] == 0
    rc, output = _run_on_pty(tmp_path, answer, "delete", "video-frames")
    assert rc == code, output
    assert "Delete pipeline 'video-frames' (" in output
    _, status = _run_on_pty(tmp_path, b"", "status", "--json")
    assert len([p for p in json.loads(status)["pipelines"] if p["id"]]) == left
