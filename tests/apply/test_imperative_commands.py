"""status / execute / executions / stats / pause / resume / reset / delete / open, through the CLI,
on the embedded default and on a served control plane."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from docs import change, document, plan
from harness import cli, isolate

from reconciler.apply import apply_plan
from reconciler.client import ApiSession, RestBackend
from reconciler.connection import open_embedded
from reconciler.document import Pipeline
from reconciler.plan import Action
from reconciler.server.testing import serve_in_thread


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory whose embedded control plane holds managed 'flow' and unmanaged 'theirs'."""
    isolate(tmp_path, monkeypatch)
    backend = open_embedded(tmp_path / ".loopform" / "state.db")
    pid = backend.project("local").id
    assert apply_plan(plan(change(pid, "flow", [Action.CREATE, Action.RESUME], desired=document("flow", pid))),
                      backend).ok
    backend.create_pipeline(Pipeline(name="theirs", projectId=pid))
    backend.close()
    yield tmp_path


def test_status_lists_managed_pipelines_and_names_the_backend(workdir: Path) -> None:
    r = cli("status")
    assert r.code == 0
    assert "Backend: local control plane .loopform/state.db (sandbox); project: local" in r.err
    lines = r.out.splitlines()
    assert lines[0].split() == ["NAME", "SPEC", "LIVE", "SYNC", "NODES", "ID"]
    assert lines[1].split()[:5] == ["flow", "-", "installed", "in-sync", "2"]  # no spec for it here
    assert "theirs" not in r.out
    assert cli("status", "--all").out.splitlines()[2].split()[:4] == ["theirs", "-", "paused", "not-managed"]
    data = json.loads(cli("status", "--json").out)
    assert [p["name"] for p in data["pipelines"]] == ["flow"]


def test_status_shows_the_spec_status_next_to_the_live_one_and_a_pause_made_elsewhere_as_drift(
        workdir: Path) -> None:
    specs = workdir / "pipelines"
    specs.mkdir()
    spec = ("apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {name: held, project: local}\n"
            "spec:\n  status: paused\n  nodes: {a: {type: dataset, dataset: raw}}\n")
    (specs / "held.yaml").write_text(spec)
    (specs / "runs.yaml").write_text(spec.replace("held", "runs").replace("paused", "installed"))
    assert cli("apply", "--auto-approve").code == 0
    rows = {line.split()[0]: line.split()[1:4] for line in cli("status").out.splitlines()[1:]}
    # Created and never installed, as the spec says: paused in the plan's words, not "Created".
    assert rows["held"] == ["paused", "paused", "in-sync"]
    assert rows["runs"] == ["installed", "installed", "in-sync"]
    assert cli("pause", "runs").code == 0  # a pause made through the API, not through a spec
    data = {p["name"]: p for p in json.loads(cli("status", "--json").out)["pipelines"]}
    assert (data["runs"]["live"], data["runs"]["sync"], data["runs"]["status"]) == ("paused", "drifted", "Uninstalled")
    assert cli("resume", "runs").code == 0
    data = {p["name"]: p for p in json.loads(cli("status", "--json").out)["pipelines"]}
    assert data["runs"]["sync"] == "in-sync"


def test_execute_then_executions_and_stats(workdir: Path) -> None:
    r = cli("execute", "flow", "--input", "item=0123456789abcdef01234567", "--json")
    assert r.code == 0, r.err
    execution = json.loads(r.out)
    assert execution["id"]
    listed = cli("executions", "flow")
    assert listed.code == 0 and execution["id"] in listed.out
    listed_json = json.loads(cli("executions", "flow", "--json").out)
    assert [e["id"] for e in listed_json] == [execution["id"]]
    stats = cli("stats", "flow", "--json")
    assert stats.code == 0
    counters = json.loads(stats.out)["pipelineExecutionCounters"]
    assert sum(c["count"] for c in counters) == 1
    assert cli("stats", "flow").out.startswith("flow: executions: ")


def test_execute_input_forms_and_errors(workdir: Path) -> None:
    assert cli("execute", "flow", "--input", "noequals").code == 1
    bad = cli("execute", "flow", "--input", "n:=notjson")
    assert bad.code == 1 and "not JSON" in bad.err
    missing = cli("execute", "nope", "--input", "item=x")
    assert missing.code == 1 and "no pipeline named 'nope' in project 'local'" in missing.err


def test_pause_resume_reset_warn_that_the_spec_may_undo_them(workdir: Path) -> None:
    paused = cli("pause", "flow")
    assert paused.code == 0 and "Paused 'flow'" in paused.out and "next apply resumes it" in paused.err
    assert cli("status", "--json").out.count('"Uninstalled"') == 1
    resumed = cli("resume", "flow")
    assert resumed.code == 0 and "status: Installed" in resumed.out and "warning" in resumed.err
    assert cli("execute", "flow", "--input", "item=0123456789abcdef01234567").code == 0
    assert _executions_counted("flow") == 1
    reset = cli("reset", "flow")
    assert reset.code == 0 and "Reset 'flow'." in reset.out and "resetToken" in reset.err
    assert _executions_counted("flow") == 0  # the server's statistics start again from the reset


def test_imperative_commands_do_not_warn_about_a_pipeline_loopform_does_not_manage(workdir: Path) -> None:
    for argv in (("pause", "theirs"), ("reset", "theirs")):
        r = cli(*argv)
        assert r.code == 0, r.err
        assert "warning" not in r.err


def _executions_counted(name: str) -> int:
    stats = cli("stats", name, "--json")
    assert stats.code == 0, stats.err
    return sum(c["count"] for c in json.loads(stats.out)["pipelineExecutionCounters"])


def test_delete_refuses_unmanaged_unless_forced(workdir: Path) -> None:
    refused = cli("delete", "theirs", "--auto-approve")
    assert refused.code == 1 and "not managed by loopform" in refused.err
    assert "theirs" in cli("status", "--all").out
    assert cli("delete", "theirs", "--force", "--auto-approve").code == 0
    deleted = cli("delete", "flow", "--auto-approve")
    assert deleted.code == 0 and "next apply creates it" in deleted.err
    assert cli("status", "--all").out.startswith("No pipelines")


def test_delete_without_a_terminal_to_ask_on_deletes_nothing(workdir: Path) -> None:
    refused = cli("delete", "flow")
    assert refused.code == 1
    assert refused.err.splitlines()[-1] == ("Error: no terminal to ask for confirmation on; re-run with "
                                            "--auto-approve to delete without asking (as CI does)")
    assert "flow" in cli("status").out


def test_without_a_configured_project_the_one_project_of_the_specs_is_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)
    (tmp_path / "pipelines").mkdir()
    with serve_in_thread(tmp_path / "served.db", project="team") as server:
        b = RestBackend(ApiSession(server.base_url, server.token), label="x")
        pid = b.project("team").id
        apply_plan(plan(change(pid, "flow", [Action.CREATE, Action.RESUME], desired=document("flow", pid))), b)
        b.close()
        monkeypatch.setenv("LOOPFORM_TOKEN", server.token)
        for name in ("a", "b"):
            (tmp_path / "pipelines" / f"{name}.yaml").write_text(
                f"apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {{name: {name}, project: team}}\n"
                "spec:\n  nodes:\n    cut: {type: code, code: \"def run(item):\\n    return item\\n\"}\n")
        for argv in (("status",), ("open", "flow"), ("executions", "flow"), ("stats", "flow"), ("pause", "flow"),
                     ("resume", "flow"), ("reset", "flow"), ("execute", "flow"), ("delete", "flow", "--auto-approve")):
            r = cli(*argv, "--url", server.base_url)
            assert r.code == 0, (argv, r.err)
            assert "note: project 'team': the one the specs in pipelines/ name" in r.err
        (tmp_path / "loopform.yaml").write_text("environments:\n  team-env: {project: team}\n")
        by_env = cli("status", "--all", "--env", "team-env", "--url", server.base_url)
        assert by_env.code == 0 and "project: team; environment: team-env" in by_env.err
        assert "note: project" not in by_env.err  # the environment decided, not the specs
        (tmp_path / "pipelines" / "b.yaml").write_text((tmp_path / "pipelines" / "b.yaml").read_text()
                                                      .replace("project: team", "project: other"))
        two = cli("status", "--url", server.base_url)
        assert two.code == 1
        assert two.err.splitlines()[-1] == ("Error: which project? (the specs in pipelines/ name 'other', 'team') "
                                            "Use --project, LOOPFORM_PROJECT, or `project:` in loopform.yaml "
                                            "or in the environment")


def test_open_prints_the_web_url(workdir: Path) -> None:
    status = json.loads(cli("status", "--json").out)
    r = cli("open", "flow")
    assert r.code == 0
    assert r.out.strip() == (f"http://127.0.0.1:8765/projects/{status['projectId']}/pipelines/"
                             f"{status['pipelines'][0]['id']}")


def test_every_command_works_against_a_served_control_plane(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)
    with serve_in_thread(tmp_path / "served.db") as server:
        b = RestBackend(ApiSession(server.base_url, server.token), label="x")
        pid = b.project("local").id
        apply_plan(plan(change(pid, "flow", [Action.CREATE, Action.RESUME], desired=document("flow", pid))), b)
        monkeypatch.setenv("LOOPFORM_TOKEN", server.token)
        args = ("--url", server.base_url, "--project", "local")
        status = cli("status", *args)
        assert status.code == 0 and "flow" in status.out
        # It answers /loopform/info: named for what it is, not as the Dataloop API.
        assert (f"Backend: local control plane at {server.base_url} (sandbox) (selected by --url); "
                "project: local") in status.err
        outputs = [status]
        log = server.control_plane.request_log
        log.clear()
        for argv, route in ((("execute", "flow", "--input", "item=0123456789abcdef01234567"), "/execute"),
                            (("pause", "flow"), "/uninstall"), (("resume", "flow"), "/install"),
                            (("reset", "flow"), "/reset")):
            r = cli(*argv, *args)
            assert r.code == 0, r.err
            outputs.append(r)
            assert [e.path.rsplit("/", 1)[-1] for e in log.writes()] == [route.strip("/")], argv
            log.clear()
        for argv in (("executions", "flow"), ("stats", "flow")):
            r = cli(*argv, *args)
            assert r.code == 0 and log.writes() == [], argv
            outputs.append(r)
        assert len(b.executions(b.find_pipeline(pid, "flow").id or "")) == 1  # type: ignore[union-attr]
        opened = cli("open", "flow", *args)
        assert opened.out.startswith(f"{server.root_url}/projects/{pid}/pipelines/")
        deleted = cli("delete", "flow", "--auto-approve", *args)
        assert deleted.code == 0 and b.find_pipeline(pid, "flow") is None
        for r in (*outputs, opened, deleted):
            assert server.token not in r.out + r.err
        b.close()
    assert not (tmp_path / ".loopform").exists()
