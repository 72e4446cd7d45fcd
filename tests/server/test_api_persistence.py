"""Nothing is lost across a restart; the schema is versioned; the token secret belongs to the file."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest
import requests
from harness import cli, isolate

from reconciler.server import ControlPlane, store
from reconciler.server.store import SCHEMA_VERSION, Store, StoreError
from reconciler.server.testing import serve_in_thread


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_restart_keeps_everything_and_old_tokens_still_work(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with serve_in_thread(db) as first:
        token = first.token
        pid = requests.get(f"{first.base_url}/projects/local/name", headers=_auth(token)).json()[0]["id"]
        created = requests.post(f"{first.base_url}/pipelines", headers=_auth(token),
                                json={"name": "durable", "projectId": pid}).json()
        patched = requests.patch(f"{first.base_url}/pipelines/{created['id']}", headers=_auth(token),
                                 json={"description": "kept"}).json()
    with serve_in_thread(db) as second:
        assert second.port != 0
        again = requests.get(f"{second.base_url}/pipelines/{created['id']}", headers=_auth(token))
        assert again.status_code == 200
        body = again.json()
        assert {k: v for k, v in body.items() if k != "url"} == {
            k: v for k, v in patched.items() if k != "url"}
        # one default project, not a second one created on reopen
        assert len(requests.get(f"{second.base_url}/projects", headers=_auth(token)).json()) == 1


def test_a_token_from_another_database_is_refused(tmp_path: Path) -> None:
    other = ControlPlane(tmp_path / "other.db")
    foreign = other.mint_token()
    other.close()
    with serve_in_thread(tmp_path / "state.db") as server:
        assert requests.get(f"{server.base_url}/users/me", headers=_auth(foreign)).status_code == 401


def test_schema_is_versioned_and_wal(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    Store(db).close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="Upgrade loopform"):
        Store(db)


def test_processes_opening_a_fresh_database_together_make_one_default_project(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "state.db"
    script = (
        "import sys; from pathlib import Path; from reconciler.server import ControlPlane;"
        "ControlPlane(Path(sys.argv[1])).close()"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(db)]) for _ in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    store = Store(db)
    try:
        assert len(store.projects_named("local")) == 1
        assert store.meta("jwt_secret")
    finally:
        store.close()


def test_a_new_migration_upgrades_an_old_database_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "state.db"
    plane = ControlPlane(db)
    pid = plane.store.projects_named("local")[0]["id"]
    plane.close()
    # The next release appends a migration; opening the old file runs only that one, in place.
    added = "CREATE TABLE later (id TEXT PRIMARY KEY); INSERT INTO later (id) VALUES ('v2')"
    monkeypatch.setattr(store, "_MIGRATIONS", (*store._MIGRATIONS, added))
    monkeypatch.setattr(store, "SCHEMA_VERSION", len(store._MIGRATIONS))
    upgraded = Store(db)
    try:
        assert upgraded.project(pid) is not None  # nothing lost
        with upgraded.read() as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
            assert conn.execute("SELECT id FROM later").fetchall() == [("v2",)]
    finally:
        upgraded.close()
    Store(db).close()  # reopening at the newest version runs nothing again (no duplicate insert)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM later").fetchone()[0] == 1


def test_an_unusable_state_database_is_a_clear_error_not_a_crash(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    work = isolate(tmp_path, monkeypatch)
    (work / ".loopform").mkdir()
    (work / ".loopform" / "state.db").write_text("not a database")
    (work / "p.yaml").write_text(
        "apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {name: p, project: local}\n"
        "spec:\n  nodes:\n    a: {type: code, function: run, code: 'def run(item): return item'}\n")
    run = cli("plan", "p.yaml")
    assert run.code == 1, run
    assert "cannot open state database" in run.err and "file is not a database" in run.err
    assert "bug in loopform" not in run.err


def test_the_state_folder_keeps_itself_out_of_git(tmp_path: Path) -> None:
    ControlPlane(tmp_path / ".loopform" / "state.db").close()
    ignore = tmp_path / ".loopform" / ".gitignore"
    assert ignore.read_text().splitlines()[-1] == "*"
    ignore.write_text("mine\n")
    ControlPlane(tmp_path / ".loopform" / "state.db").close()
    assert ignore.read_text() == "mine\n"  # a user's own file is kept
    ControlPlane(tmp_path / "elsewhere" / "state.db").close()
    assert not (tmp_path / "elsewhere" / ".gitignore").exists()  # only Loopform's own folder


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_holding_the_token_secret_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Through the embedded default, as `loopform plan` opens it: the folder, the database and the
    # WAL files SQLite adds beside it are the user's alone (the file holds the JWT signing key).
    isolate(tmp_path, monkeypatch)
    (tmp_path / "p.yaml").write_text(
        "apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {name: p, project: local}\n"
        "spec:\n  nodes:\n    a: {type: code, function: run, code: 'def run(item): return item'}\n")
    run = cli("apply", "--auto-approve", "p.yaml")
    assert run.code == 0, run
    plane = ControlPlane(tmp_path / ".loopform" / "state.db")  # holds the WAL files open
    try:
        plane.mint_token()
        folder = tmp_path / ".loopform"
        files = [folder / name for name in ("state.db", "state.db-wal", "state.db-shm")]
        assert [p.exists() for p in files] == [True, True, True]
        assert _mode(folder) == 0o700
        assert [oct(_mode(p)) for p in files] == [oct(0o600)] * 3
    finally:
        plane.close()


def test_a_readable_database_left_by_an_older_version_is_made_private(tmp_path: Path) -> None:
    folder = tmp_path / ".loopform"
    ControlPlane(folder / "state.db").close()
    folder.chmod(0o755)
    (folder / "state.db").chmod(0o644)
    ControlPlane(folder / "state.db").close()
    assert (_mode(folder), _mode(folder / "state.db")) == (0o700, 0o600)
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir(mode=0o755)
    ControlPlane(elsewhere / "state.db").close()
    assert (_mode(elsewhere), _mode(elsewhere / "state.db")) == (0o755, 0o600)  # a user's folder is theirs


def test_an_in_memory_database_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite's ":memory:" is no path: making it private must not create a file of that name.
    monkeypatch.chdir(tmp_path)
    ControlPlane(Path(":memory:")).close()
    assert list(tmp_path.iterdir()) == []


def test_a_cycle_keeps_its_place_in_the_listing_when_it_changes(tmp_path: Path) -> None:
    # dtlpy pages through cycles 100 at a time while the engine updates them: a cycle that moved to
    # the end at each update was listed twice and another never (a flake of the 130-run listing).
    store = Store(tmp_path / "state.db")
    try:
        cycles = [{"id": f"c{i}", "pipelineId": "p", "projectId": "proj", "status": "created"} for i in range(3)]
        for cycle in cycles:
            store.put_execution(cycle)
        store.put_execution({**cycles[0], "status": "success"})
        assert [c["id"] for c in store.executions_in({"proj"})] == ["c0", "c1", "c2"]
        assert [c["status"] for c in store.executions_of("p")] == ["success", "created", "created"]
    finally:
        store.close()


def test_cycles_stored_whole_by_an_older_version_read_back_the_same_after_the_upgrade(tmp_path: Path) -> None:
    # Up to schema 3 a cycle was one document holding its node executions; 4 moves them to rows.
    db = tmp_path / "state.db"
    with sqlite3.connect(db) as conn:
        for script in store._MIGRATIONS[:3]:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute("PRAGMA user_version = 3")

        def execution(eid: str, node: str, status: str) -> dict[str, object]:
            return {"_id": eid, "id": eid, "status": status, "attempts": 1, "input": {"item": eid},
                    "pipeline": {"id": "p1", "nodeId": node, "executionId": "c1"}, "log": "é; {}"}

        cycles = [
            {"id": "c1", "pipelineId": "p1", "projectId": "pr", "status": "in-progress", "nodes": [{"id": "b"}],
             "executions": {"b": [execution("e1", "b", "success"), execution("e2", "b", "created")],
                            "a": [execution("e3", "a", "in-progress")]}, "input": {"item": "i"}},
            {"id": "c2", "pipelineId": "p1", "projectId": "pr", "status": "created", "nodes": [], "executions": {}},
        ]
        for cycle in cycles:
            conn.execute("INSERT INTO executions (id, pipeline_id, project_id, doc) VALUES (?, ?, ?, ?)",
                         (cycle["id"], "p1", "pr", json.dumps(cycle)))
    upgraded = Store(db)
    try:
        assert upgraded.executions_of("p1") == cycles
        assert list(upgraded.execution("c1")["executions"]) == ["b", "a"]  # the nodes' order too
        assert upgraded.node_execution("c1", "e2") == cycles[0]["executions"]["b"][1]
        assert upgraded.node_execution_count("c1") == 3 and upgraded.node_execution_count("c2") == 0
        assert upgraded.cycle_head("c1") == {**cycles[0], "executions": {}}
        assert upgraded.started_with_item("p1", "i") and [c["id"] for c in upgraded.open_cycles("p1")] == ["c1", "c2"]
    finally:
        upgraded.close()
