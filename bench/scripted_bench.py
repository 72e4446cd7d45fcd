"""Benchmark: Loopform's no-change plan next to the scripted way a Dataloop user checks drift today.

    pip install -e '.[bench]'
    python bench/scripted_bench.py [--count 300]

The scripted way, per pipeline: `project.pipelines.get(pipeline_name=...)` with dtlpy, then
`deepdiff.DeepDiff` of its JSON against the desired JSON kept next to it (written, in the setup, from
the same live pipelines: nothing differs). Loopform: `loopform plan DIR` of the specs the pipelines
were applied from. Both against one control plane served over HTTP on 127.0.0.1, each in a fresh
interpreter, best of --rounds taken alternately. Prints the times and their ratio; never asserts.
"""

from __future__ import annotations

import argparse
import sys

from benchkit import apply_once, best_of, clean_env, loopform, small_specs, timed, workdir

from reconciler.server.testing import serve_in_thread
from reconciler.spec import load

SCRIPT = """
import json, sys
from pathlib import Path
import dtlpy as dl
from deepdiff import DeepDiff

base_url, root_url, token, desired_dir, mode = sys.argv[1:6]
dl.add_environment(environment=base_url, alias="bench", gate_url=root_url, url=root_url + "/", verify_ssl=False)
dl.setenv("bench")
dl.login_token(token)
project = dl.projects.get(project_name="local")
names = json.loads((Path(desired_dir) / "names.json").read_text())
differ = 0
for name in names:
    live = project.pipelines.get(pipeline_name=name).to_json()
    path = Path(desired_dir) / f"{name}.json"
    if mode == "write":
        path.write_text(json.dumps(live))
    elif DeepDiff(json.loads(path.read_text()), live, ignore_order=True):
        differ += 1
print(differ)
sys.exit(1 if differ else 0)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="pipelines (default 300)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with workdir() as tmp:
        specs = small_specs(tmp, args.count)
        desired = tmp / "desired"
        desired.mkdir()
        with serve_in_thread(tmp / "state.db") as server:
            apply_once(specs, server.base_url, server.token, tmp)
            names = sorted(s.spec.metadata.name for s in load([specs]).specs)
            (desired / "names.json").write_text(__import__("json").dumps(names))
            env = {**clean_env(tmp), "LOOPFORM_TOKEN": server.token, "DATALOOP_PATH": str(tmp / "dataloop")}

            def scripted(mode: str) -> float:
                return timed([sys.executable, "-c", SCRIPT, server.base_url, server.root_url, server.token,
                              str(desired), mode], env=env, cwd=tmp)

            scripted("write")
            script_s, plan_s = best_of(
                args.rounds, lambda: scripted("check"),
                lambda: timed(loopform("plan", str(specs), "--url", server.base_url, "--detailed-exitcode"),
                              env=env, cwd=tmp))
    print(f"no-change check of {args.count} pipelines against loopform serve:")
    print(f"  scripted (dtlpy pipelines.get + DeepDiff per pipeline) {script_s:.2f} s")
    print(f"  loopform plan {plan_s:.2f} s: {script_s / plan_s:.1f}x faster")


if __name__ == "__main__":
    main()
