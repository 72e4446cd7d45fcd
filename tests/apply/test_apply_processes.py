"""Two `loopform apply` processes on the same specs at the same time, against one server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from faultkit import Concurrency
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
        for proc, (out, err) in zip(procs, outputs):
            assert proc.returncode == 0, err.decode()
            assert server.token.encode() not in out + err
        assert both.max_seen == 2  # the two applies did overlap
        creates = [e.status for e in server.control_plane.request_log.entries()
                   if e.method == "POST" and e.path == "/api/v1/pipelines"]
        # One create of each spec committed; its twin was refused, and that apply adopted the pipeline.
        assert sorted(creates) == [200] * 3 + [409] * 3
        backend = RestBackend(ApiSession(server.base_url, server.token), label="check")
        live = backend.list_pipelines(backend.project("local").id)
        assert sorted(p.name for p in live) == spec_names(specs)
        assert not plan_for(specs, backend).has_changes  # each has the spec's content
        backend.close()
