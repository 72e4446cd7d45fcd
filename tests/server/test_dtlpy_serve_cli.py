"""End to end as a user does it: `loopform serve --dtlpy-login DIR` in one process, then a plain
`DATALOOP_PATH=DIR python` using dtlpy with no setup calls at all, then SIGTERM stops the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SDK_SCRIPT = textwrap.dedent(
    """
    import json
    import dtlpy as dl

    project = dl.projects.get(project_name="demo")
    pipeline = project.pipelines.create(name="from-the-cli-login")
    listed = [p.id for p in project.pipelines.list().all()]
    print(json.dumps({"project": project.id, "pipeline": pipeline.id, "listed": listed}))
    """
)


# Dataloop's own flows, as a user runs them against `loopform serve`: data in, labels, a task, code
# pushed and deployed, a pipeline built from them that installs with a task trigger, the
# platform's refusals. Prints one JSON line of what it saw.
DATA_PLANE_SCRIPT = textwrap.dedent(
    """
    import io, json, pathlib, tempfile
    import dtlpy as dl

    project = dl.projects.get(project_name="demo")
    dataset = project.datasets.create(dataset_name="frames")
    dataset.add_labels(label_list=["cat", "dog"])
    item = dataset.items.upload(local_path=io.BytesIO(b"jpeg"), remote_name="a.jpg", remote_path="/in")
    task = dataset.tasks.create(task_name="label", assignee_ids=["local@loopform.dev"])
    item.update_status(status="completed", task_id=task.id)
    src = pathlib.Path(tempfile.mkdtemp())
    (src / "main.py").write_text("import dtlpy as dl\\n\\nclass ServiceRunner(dl.BaseServiceRunner):\\n"
                                 "    def run(self, item):\\n        return item\\n")
    module = dl.PackageModule(name="default_module", entry_point="main.py", functions=[dl.PackageFunction(
        name="run", inputs=[dl.FunctionIO(type="Item", name="item")], outputs=[dl.FunctionIO(type="Item", name="item")])])
    package = project.packages.push(package_name="cutter", src_path=str(src), modules=[module])
    service = package.services.deploy(service_name="cutter", module_name="default_module")

    pipeline = project.pipelines.create(name="flow")
    recipe = dataset.recipes.list()[0]
    label = dl.TaskNode(name="review", project_id=project.id, dataset_id=dataset.id, recipe_id=recipe.id,
                        recipe_title=recipe.title, task_owner="local@loopform.dev", position=(1, 1),
                        workload=[dl.WorkloadUnit(assignee_id="local@loopform.dev", load=100)])
    cut = dl.FunctionNode(name="cut", service=service, function_name="run", project_id=project.id,
                          project_name=project.name, position=(2, 1))
    pipeline.nodes.add(label).connect(cut, action="complete")
    label.add_trigger(filters=dl.Filters(field="datasetId", values=dataset.id))
    pipeline = pipeline.update()
    installed = pipeline.install()
    cut_node = [n for n in pipeline.nodes if n.name == "cut"][0]
    cut_node.connect(cut_node)
    try:
        pipeline.update()
        refusal = None
    except dl.exceptions.BadRequest as exc:
        refusal = exc.message
    print(json.dumps({
        "labels": sorted(l.tag for l in project.datasets.get(dataset_id=dataset.id).labels),
        "status": dataset.items.get(item_id=item.id).status(task_id=task.id),
        "installed": installed.status,
        "tasks": sorted(t.name for t in project.tasks.list()),
        "refusal": refusal,
    }))
    """
)


def complete(path: Path) -> bool:
    """The file exists and has been written to the end (the server creates, then writes)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return False
    if path.suffix == ".json":
        try:
            json.loads(text)
        except ValueError:
            return False
        return True
    return text.endswith("\n")


def wait_for(path: Path, proc: subprocess.Popen[str], deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while not complete(path):
        if proc.poll() is not None:
            raise AssertionError(f"loopform serve exited early: {proc.stdout.read() if proc.stdout else ''}")
        if time.monotonic() > end:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)


@dataclass
class Served:
    """A `loopform serve` subprocess with its dtlpy login directory; `output` once it has stopped."""

    process: subprocess.Popen[str]
    login: Path
    env: dict[str, str]
    output: str = ""

    def run_sdk(self, script: str, cwd: Path) -> dict[str, object]:
        """`python -c script` with dtlpy pointed at the server by its login alone; its last JSON line."""
        client = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd,
                                env={**self.env, "DATALOOP_PATH": str(self.login)}, timeout=120)
        assert client.returncode == 0, client.stderr[-3000:]
        result: dict[str, object] = json.loads(client.stdout.strip().splitlines()[-1])
        return result


@contextmanager
def served(tmp_path: Path) -> Iterator[Served]:
    """`loopform serve --port 0` for project demo with a dtlpy login and a token file; SIGTERM at the end."""
    login, db = tmp_path / "dataloop", tmp_path / "state.db"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DATALOOP_PATH", None)
    # A token file left readable by someone (no newline, so wait_for waits for the new token): the
    # token written over it must not be readable.
    (tmp_path / "token").write_text("an old token")
    (tmp_path / "token").chmod(0o644)
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--port", "0", "--db", str(db), "--project", "demo",
         "--dtlpy-login", str(login), "--token-file", str(tmp_path / "token")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path,
    )
    handle = Served(process, login, env)
    try:
        wait_for(login / "cookie.json", process)
        wait_for(tmp_path / "token", process)
        yield handle
    finally:
        process.send_signal(signal.SIGTERM)
        handle.output, _ = process.communicate(timeout=30)


def test_serve_writes_a_dtlpy_login_that_works_and_stops_on_sigterm(tmp_path: Path) -> None:
    with served(tmp_path) as server:
        token = (tmp_path / "token").read_text().strip()
        assert (server.login / "cookie.json").stat().st_mode & 0o077 == 0  # the token inside is private
        assert (tmp_path / "token").stat().st_mode & 0o077 == 0
        result = server.run_sdk(SDK_SCRIPT, tmp_path)
        assert result["listed"] == [result["pipeline"]]
    assert server.process.returncode == 0, server.output
    assert "Stopped." in server.output
    assert token not in server.output  # --token-file keeps it off the terminal
    assert (tmp_path / "state.db").exists()


def test_dataloops_data_plane_flows_run_against_loopform_serve(tmp_path: Path) -> None:
    with served(tmp_path) as server:
        seen = server.run_sdk(DATA_PLANE_SCRIPT, tmp_path)
    assert seen["labels"] == ["cat", "dog"] and seen["status"] == "completed"
    assert seen["installed"] == "Installed"
    assert seen["tasks"] == ["label", "review"]  # the task node made its task at install
    assert seen["refusal"] == 'Invalid input specified, Failed to update pipeline: Infinite Loop detected for node "cut"'
    assert (tmp_path / "state-binaries").is_dir()  # uploaded bytes live beside the database
