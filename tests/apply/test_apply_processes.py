"""Two `loopform apply` processes on the same specs at the same time, against one server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from faultkit import Concurrency
from harness import Drain, cli
from specs import copy_examples, plan_for, spec_names

from reconciler.client import ApiSession, RestBackend
from reconciler.server.testing import serve_in_thread


def test_two_apply_processes_at_once_end_with_one_pipeline_per_spec(tmp_path: Path) -> None:
    specs = copy_examples(tmp_path)
    # Each process creates one pipeline at a time (--parallelism 1), and the server holds the first
    # create until a second is in too: so both processes planned before either created anything,
    # and every spec is created by both (however long each process takes to start).
    both = Concurrency("POST", r"/pipelines$", target=2, patience=30)
    with serve_in_thread(tmp_path / "state.db", wrap=both) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOPFORM_", "DATALOOP_"))}
        env.update(LOOPFORM_API_URL=server.base_url, LOOPFORM_TOKEN=server.token, HOME=str(tmp_path))
        argv = [sys.executable, "-m", "reconciler", "apply", "--auto-approve", "--json", "--parallelism", "1"]
        procs = [subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
        outputs = [p.communicate(timeout=120) for p in procs]
        served = [(e.method, e.path.removeprefix("/api/v1"), e.status) for e in server.control_plane.request_log]
        why = f"{[(p.returncode, err.decode()[-1500:]) for p, (_, err) in zip(procs, outputs)]}\n{served}"
        for proc, (out, err) in zip(procs, outputs):
            assert proc.returncode == 0, why
            assert server.token.encode() not in out + err
        assert both.max_seen == 2, why  # the two applies did overlap
        creates = [e.status for e in server.control_plane.request_log.entries()
                   if e.method == "POST" and e.path == "/api/v1/pipelines"]
        # One create of each spec committed; its twin was refused, and that apply adopted the pipeline.
        assert sorted(creates) == [200] * 3 + [409] * 3, why
        backend = RestBackend(ApiSession(server.base_url, server.token), label="check")
        live = backend.list_pipelines(backend.project("local").id)
        assert sorted(p.name for p in live) == spec_names(specs)
        assert not plan_for(specs, backend).has_changes  # each has the spec's content
        backend.close()


class HoldFirstCreate:
    """WSGI middleware: the first `POST /pipelines` waits (before reaching the app) until `release`."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()

    def __call__(self, app: Any) -> Any:
        def middleware(environ: dict[str, Any], start_response: Any) -> Any:
            if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/pipelines") \
                    and not self.arrived.is_set():
                self.arrived.set()
                self.release.wait(timeout=60)
            return app(environ, start_response)
        return middleware


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_starting_pipelines_and_lets_the_one_in_progress_finish(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int) -> None:
    specs = copy_examples(tmp_path)
    hold = HoldFirstCreate()
    with serve_in_thread(tmp_path / "state.db", wrap=hold) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOPFORM_", "DATALOOP_"))}
        env.update(LOOPFORM_API_URL=server.base_url, LOOPFORM_TOKEN=server.token, HOME=str(tmp_path))
        proc = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "--auto-approve", "--parallelism", "1"],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stderr is not None
        stdout, stderr = Drain(proc.stdout), Drain(proc.stderr)
        try:
            assert hold.arrived.wait(timeout=60), stderr.text
            proc.send_signal(signum)  # while model-review's create is on the wire
            seen = stderr.wait_for("Stopping")
        finally:
            hold.release.set()
        proc.wait(timeout=60)
        out, err = stdout.rest(), stderr.rest()
        assert proc.returncode == 1, err
        # Only a Ctrl-C user has a Ctrl-C to press again; a supervisor's SIGTERM is told no such thing.
        assert ("Ctrl-C again" in seen) == (signum == signal.SIGINT), seen
        assert "done           local/model-review (create, then install)" in out  # finished, installed too
        assert "not attempted  local/nightly-quality" in out and "not attempted  local/video-frames" in out
        assert "Apply incomplete: 1 done, 0 failed, 2 not attempted" in out
        assert "interrupted and run apply again" in err
        monkeypatch.chdir(tmp_path)
        for var in ("LOOPFORM_PROJECT", "LOOPFORM_ENV", "DATALOOP_PATH"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("LOOPFORM_API_URL", server.base_url)
        monkeypatch.setenv("LOOPFORM_TOKEN", server.token)
        rerun = cli("apply", "--auto-approve")
        assert rerun.code == 0 and "Apply complete: 2 done, 0 failed, 0 not attempted, 1 unchanged." in rerun.out
        backend = RestBackend(ApiSession(server.base_url, server.token), label="check")
        assert not plan_for(specs, backend).has_changes
        backend.close()
