"""The control plane's state: one SQLite file, WAL, versioned schema, every write in a transaction.

Contract:
- `Store(path)` opens (creating if needed) the database and migrates it to the newest schema. The
  database holds the secret that signs tokens: it is created 0600 (its folder, when created, 0700)
  and an existing one readable by others is made private on open (`_make_private`).
  Migrations are an ordered list applied by `PRAGMA user_version`; never edit a released one, append.
- Documents (projects, pipelines, executions, platform objects) are stored as JSON text, with the
  columns the server looks things up by (project_id, name, kind) indexed beside them.
- One connection guarded by a lock: SQLite serialises writers anyway, and a single connection keeps
  the in-process (embedded) and threaded (waitress) uses equally safe. Every write runs inside
  `BEGIN IMMEDIATE`, so a read-modify-write (`update_pipeline`) is atomic: concurrent updates of one
  pipeline end in one of the submitted documents, never a mix.
- sqlite3 errors never leave this module unwrapped: `StoreError` (or `DuplicateName`); the one
  exception is `sqlite3.IntegrityError` raised inside a caller's own `write()` block, which that
  caller handles.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from reconciler.errors import LoopformError

Doc = dict[str, Any]

_MIGRATIONS: tuple[str, ...] = (
    # 1: the initial schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE projects (id TEXT PRIMARY KEY, name TEXT NOT NULL, doc TEXT NOT NULL);
    CREATE INDEX projects_by_name ON projects(name);
    CREATE TABLE members (
        project_id TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL,
        PRIMARY KEY (project_id, email)
    );
    CREATE INDEX members_by_email ON members(email);
    CREATE TABLE users (email TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE pipelines (
        id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL,
        revision INTEGER NOT NULL, doc TEXT NOT NULL
    );
    CREATE UNIQUE INDEX pipelines_by_name ON pipelines(project_id, name);
    CREATE TABLE executions (
        id TEXT PRIMARY KEY, pipeline_id TEXT NOT NULL, project_id TEXT NOT NULL, doc TEXT NOT NULL
    );
    CREATE INDEX executions_by_pipeline ON executions(pipeline_id);
    CREATE TABLE resources (
        kind TEXT NOT NULL, id TEXT NOT NULL, project_id TEXT, name TEXT NOT NULL, scope TEXT,
        doc TEXT NOT NULL, PRIMARY KEY (kind, id)
    );
    CREATE INDEX resources_by_name ON resources(kind, project_id, name);
    CREATE TABLE commands (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
    """,
    # 2: objects looked up within a parent (items by dataset and path, tasks by dataset)
    """
    CREATE INDEX resources_by_scope ON resources(kind, scope, name);
    """,
    # 3: a pipeline's cycles by the item they started with (an item trigger's executionMode Once)
    """
    CREATE INDEX executions_by_input_item ON executions(pipeline_id, json_extract(doc, '$.input.item'));
    """,
    # 4: a cycle's node executions as rows of their own (the cycle's `executions` stays {}): a step
    # of a cycle writes its execution, not the whole cycle again (n executions cost n^2 before).
    # The order: json_each's ids grow with the position in the document, a node's list holds
    # fewer than a million (no window function: SQLite before 3.25 has none)
    """
    CREATE TABLE node_executions (
        id TEXT PRIMARY KEY, cycle_id TEXT NOT NULL, node_id TEXT NOT NULL, seq INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX node_executions_by_cycle ON node_executions(cycle_id, seq);
    CREATE INDEX node_executions_by_node ON node_executions(cycle_id, node_id, seq);
    INSERT OR IGNORE INTO node_executions (id, cycle_id, node_id, seq, doc)
        SELECT json_extract(x.value, '$.id'), e.id, n.key, n.id * 1000000 + x.key, x.value
        FROM executions e, json_each(e.doc, '$.executions') n, json_each(n.value) x;
    UPDATE executions SET doc = json_set(doc, '$.executions', json('{}'))
    """,
)

SCHEMA_VERSION = len(_MIGRATIONS)


class StoreError(LoopformError):
    """The database cannot be opened, is newer than this code, or a statement failed.

    A LoopformError, so that wherever it escapes (opening the embedded default from any command,
    `loopform local seed`) the CLI reports its message and exits 1 instead of calling it a bug.
    Inside the HTTP app it becomes a 500 without details.
    """


class DuplicateName(StoreError):
    """A pipeline with this name exists in the project already."""


IN_MEMORY = ":memory:"  # SQLite's name for a database that lives only in this process: no file
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
_OPTIMISTIC_ATTEMPTS = 3


def _make_private(path: Path) -> None:
    """Create the database file 0600, in a folder created 0700, before SQLite opens it.

    SQLite creates the -wal and -shm files with the database file's own permissions, so they are
    private too. Files already there and readable by others (made by an older version, under a
    lax umask) are narrowed to their owner; a file we do not own is left to its owner.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    for file in (path, *(path.with_name(path.name + suffix) for suffix in _SQLITE_COMPANIONS)):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & 0o077:
                os.chmod(file, mode & 0o700)
        except (FileNotFoundError, PermissionError):
            pass


class NodeFacts(NamedTuple):
    """What a cycle's summary of a node needs of each of its executions."""

    status: str
    attempts: int | None
    created_at: str | None
    updated_at: str | None


def _dumps(doc: Doc) -> str:
    return json.dumps(doc, separators=(",", ":"))


def _head(cycle: Doc) -> str:
    """A cycle as its row stores it: its node executions are rows of their own."""
    return _dumps({**cycle, "executions": {}})


BUSY_SECONDS = 30  # how long a statement waits for another process's lock before failing


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            if str(self.path) != IN_MEMORY:
                _make_private(self.path)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves (sqlite3's implicit
            # transactions would start a deferred one and could fail with SQLITE_BUSY mid-way).
            self._db = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=BUSY_SECONDS
            )
            self._wal()
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open state database {self.path}: {exc}") from exc
        except OSError as exc:  # the folder cannot be created (read-only, a file in the way...)
            raise StoreError(
                f"cannot open state database {self.path}: {exc.strerror or exc}"
                + (f" ({exc.filename})" if exc.filename else "")
            ) from exc

    def _wal(self) -> None:
        """Switch to WAL, waiting for others as the busy timeout does: the switch needs the database
        to itself, and SQLite answers BUSY at once, without its busy handler, when another process
        opening the same fresh file holds a lock (four `loopform` processes starting together)."""
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) \
                        or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _migrate(self) -> None:
        with self.write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}; this loopform knows up to "
                    f"{SCHEMA_VERSION}. Upgrade loopform."
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE); commits on success, rolls back on any error."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(str(exc)) from exc
            try:
                yield self._db
            except sqlite3.IntegrityError:
                self._db.execute("ROLLBACK")
                raise  # the callers turn constraint violations into domain errors
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(str(exc)) from exc
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                try:
                    self._db.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._db.execute("ROLLBACK")
                    raise StoreError(str(exc)) from exc

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise StoreError(str(exc)) from exc

    # --- meta -------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        with self.read() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def meta_setdefault(self, key: str, value: str) -> str:
        """The stored value of `key`, storing `value` first if there is none (atomic)."""
        with self.write() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            return str(db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    # --- projects and members ---------------------------------------------------------------

    def insert_project(self, doc: Doc, *, owner: str, unless_named: bool = False) -> bool:
        """Store a project owned by `owner`; True if stored.

        With `unless_named`, nothing is stored when a project of that name exists: checked in the
        same transaction, so two processes opening a fresh database create one default project.
        """
        with self.write() as db:
            if unless_named and db.execute(
                "SELECT 1 FROM projects WHERE name = ?", (doc["name"],)
            ).fetchone():
                return False
            db.execute(
                "INSERT INTO projects (id, name, doc) VALUES (?, ?, ?)",
                (doc["id"], doc["name"], _dumps(doc)),
            )
            db.execute(
                "INSERT OR REPLACE INTO members (project_id, email, role) VALUES (?, ?, 'owner')",
                (doc["id"], owner),
            )
            return True

    def delete_project(self, project_id: str) -> bool:
        """Delete a project with everything in it (members, pipelines, cycles, objects), at once."""
        with self.write() as db:
            db.execute("DELETE FROM node_executions WHERE cycle_id IN (SELECT id FROM executions WHERE project_id = ?)",
                       (project_id,))
            for table in ("members", "pipelines", "executions", "resources"):
                db.execute(f"DELETE FROM {table} WHERE project_id = ?", (project_id,))
            return db.execute("DELETE FROM projects WHERE id = ?", (project_id,)).rowcount > 0

    def project(self, project_id: str) -> Doc | None:
        with self.read() as db:
            row = db.execute("SELECT doc FROM projects WHERE id = ?", (project_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def projects_named(self, name: str) -> list[Doc]:
        with self.read() as db:
            rows = db.execute(
                "SELECT doc FROM projects WHERE name = ? ORDER BY rowid", (name,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def projects_of(self, email: str) -> list[Doc]:
        with self.read() as db:
            rows = db.execute(
                "SELECT p.doc FROM projects p JOIN members m ON m.project_id = p.id"
                " WHERE m.email = ? ORDER BY p.rowid",
                (email,),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def project_ids_of(self, email: str) -> set[str]:
        with self.read() as db:
            rows = db.execute("SELECT project_id FROM members WHERE email = ?", (email,)).fetchall()
        return {r[0] for r in rows}

    def add_member(self, project_id: str, email: str, role: str) -> None:
        with self.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO members (project_id, email, role) VALUES (?, ?, ?)",
                (project_id, email, role),
            )

    def members(self, project_id: str) -> list[tuple[str, str]]:
        """(email, role) of every member of the project, in the order they were added."""
        with self.read() as db:
            rows = db.execute(
                "SELECT email, role FROM members WHERE project_id = ? ORDER BY rowid", (project_id,)
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def is_member(self, project_id: str, email: str) -> bool:
        with self.read() as db:
            row = db.execute(
                "SELECT 1 FROM members WHERE project_id = ? AND email = ?", (project_id, email)
            ).fetchone()
        return row is not None

    # --- users ------------------------------------------------------------------------------

    def user(self, email: str) -> Doc | None:
        with self.read() as db:
            row = db.execute("SELECT doc FROM users WHERE email = ?", (email,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_user(self, doc: Doc) -> None:
        with self.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO users (email, doc) VALUES (?, ?)", (doc["email"], _dumps(doc))
            )

    # --- pipelines --------------------------------------------------------------------------

    def insert_pipeline(self, doc: Doc) -> None:
        """Store a new pipeline; `DuplicateName` if its name is taken in its project."""
        try:
            with self.write() as db:
                db.execute(
                    "INSERT INTO pipelines (id, project_id, name, revision, doc) VALUES (?, ?, ?, ?, ?)",
                    (doc["id"], doc["projectId"], doc["name"], doc.get("revision", 1), _dumps(doc)),
                )
        except sqlite3.IntegrityError as exc:
            raise DuplicateName(doc["name"]) from exc

    def pipeline(self, pipeline_id: str) -> Doc | None:
        with self.read() as db:
            row = db.execute("SELECT doc FROM pipelines WHERE id = ?", (pipeline_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def update_pipeline(self, pipeline_id: str, change: Callable[[Doc], Doc]) -> Doc | None:
        """Atomically replace the pipeline with `change(current)`; None if there is no such pipeline.

        `change` sees the latest committed document, and its result is written only if nobody wrote
        in between; otherwise it runs again on the newer document. So concurrent updates serialise
        as under one lock, but `change` (validating a large document takes seconds) runs outside
        the lock, holding up no other request. After a few lost races it runs inside the write
        transaction, so it always ends. It may raise to abort (nothing is written).
        """
        try:
            for _ in range(_OPTIMISTIC_ATTEMPTS):
                with self.read() as db:
                    row = db.execute("SELECT doc FROM pipelines WHERE id = ?", (pipeline_id,)).fetchone()
                if row is None:
                    return None
                new = change(json.loads(row[0]))
                with self.write() as db:
                    if self._replace_pipeline(db, pipeline_id, new, unless_changed_from=row[0]):
                        return new
            with self.write() as db:
                row = db.execute("SELECT doc FROM pipelines WHERE id = ?", (pipeline_id,)).fetchone()
                if row is None:
                    return None
                new = change(json.loads(row[0]))
                self._replace_pipeline(db, pipeline_id, new, unless_changed_from=row[0])
                return new
        except sqlite3.IntegrityError as exc:
            raise DuplicateName(str(exc)) from exc

    @staticmethod
    def _replace_pipeline(db: sqlite3.Connection, pipeline_id: str, new: Doc, *, unless_changed_from: str) -> bool:
        """Within `write()`: store `new` if the stored text is still `unless_changed_from`."""
        return db.execute(
            "UPDATE pipelines SET name = ?, revision = ?, doc = ? WHERE id = ? AND doc = ?",
            (new["name"], new.get("revision", 1), _dumps(new), pipeline_id, unless_changed_from),
        ).rowcount > 0

    def delete_pipeline(self, pipeline_id: str) -> bool:
        with self.write() as db:
            cur = db.execute("DELETE FROM pipelines WHERE id = ?", (pipeline_id,))
            db.execute("DELETE FROM node_executions WHERE cycle_id IN "
                       "(SELECT id FROM executions WHERE pipeline_id = ?)", (pipeline_id,))
            db.execute("DELETE FROM executions WHERE pipeline_id = ?", (pipeline_id,))
            return cur.rowcount > 0

    def pipelines_in(self, project_ids: set[str]) -> list[Doc]:
        """Every pipeline of these projects, in creation order."""
        if not project_ids:
            return []
        marks = ",".join("?" * len(project_ids))
        with self.read() as db:
            rows = db.execute(
                f"SELECT doc FROM pipelines WHERE project_id IN ({marks}) ORDER BY rowid",
                sorted(project_ids),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    # --- cycles (pipeline executions) and their node executions -----------------------------
    # A cycle is a row of `executions` (its document with `executions: {}`) and a row of
    # `node_executions` per node execution, in order (`seq`); reads put them together again.

    def put_execution(self, doc: Doc) -> None:
        """Store a cycle whole, its node executions with it (those it no longer lists go)."""
        # An update keeps the row (and its rowid, the listing order): REPLACE moved a running cycle
        # to the end at every step, so a client paging through the cycles saw one twice, another never.
        with self.write() as db:
            self._put_head(db, doc)
            db.execute("DELETE FROM node_executions WHERE cycle_id = ?", (doc["id"],))
            seq = 0
            for node_id, listed in (doc.get("executions") or {}).items():
                for execution in listed:
                    seq += 1
                    db.execute("INSERT INTO node_executions (id, cycle_id, node_id, seq, doc) VALUES (?, ?, ?, ?, ?)",
                               (execution["id"], doc["id"], node_id, seq, _dumps(execution)))

    @staticmethod
    def _put_head(db: sqlite3.Connection, doc: Doc) -> None:
        db.execute(
            "INSERT INTO executions (id, pipeline_id, project_id, doc) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET pipeline_id = excluded.pipeline_id, "
            "project_id = excluded.project_id, doc = excluded.doc",
            (doc["id"], doc["pipelineId"], doc["projectId"], _head(doc)),
        )

    def record_node_executions(self, cycle_id: str, executions: list[Doc],
                               summarise: Callable[[Doc, dict[str, list[NodeFacts]]], Doc]) -> bool:
        """Add or replace these node executions of the cycle (an execution's node is
        `pipeline.nodeId`), and store as the cycle `summarise(cycle, facts)`: the cycle without its
        executions, and for each node an execution of which changed, the (status, attempts,
        createdAt, updatedAt) of all its executions in order. One transaction, one node's rows
        read: the cost of a step does not grow with the cycle. False when the cycle is gone."""
        with self.write() as db:
            row = db.execute("SELECT doc FROM executions WHERE id = ?", (cycle_id,)).fetchone()
            if row is None:
                return False
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM node_executions WHERE cycle_id = ?",
                             (cycle_id,)).fetchone()[0]
            for execution in executions:
                seq += 1
                db.execute("INSERT INTO node_executions (id, cycle_id, node_id, seq, doc) VALUES (?, ?, ?, ?, ?) "
                           "ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
                           (execution["id"], cycle_id, execution["pipeline"]["nodeId"], seq, _dumps(execution)))
            facts = {
                node_id: [NodeFacts(*r) for r in db.execute(
                    "SELECT json_extract(doc, '$.status'), json_extract(doc, '$.attempts'), "
                    "json_extract(doc, '$.createdAt'), json_extract(doc, '$.updatedAt') "
                    "FROM node_executions WHERE cycle_id = ? AND node_id = ? ORDER BY seq", (cycle_id, node_id))]
                for node_id in dict.fromkeys(e["pipeline"]["nodeId"] for e in executions)}
            db.execute("UPDATE executions SET doc = ? WHERE id = ?",
                       (_head(summarise(json.loads(row[0]), facts)), cycle_id))
            return True

    def change_cycle(self, cycle_id: str, change: Callable[[Doc], Doc]) -> None:
        """Change the cycle's own fields (not its node executions), if it exists."""
        with self.write() as db:
            row = db.execute("SELECT doc FROM executions WHERE id = ?", (cycle_id,)).fetchone()
            if row is not None:
                db.execute("UPDATE executions SET doc = ? WHERE id = ?",
                           (_head(change(json.loads(row[0]))), cycle_id))

    def cycle_head(self, cycle_id: str) -> Doc | None:
        """The cycle without its node executions (`executions` is {})."""
        with self.read() as db:
            row = db.execute("SELECT doc FROM executions WHERE id = ?", (cycle_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def node_execution(self, cycle_id: str, execution_id: str) -> Doc | None:
        with self.read() as db:
            row = db.execute("SELECT doc FROM node_executions WHERE id = ? AND cycle_id = ?",
                             (execution_id, cycle_id)).fetchone()
        return json.loads(row[0]) if row else None

    def node_execution_count(self, cycle_id: str) -> int:
        with self.read() as db:
            return int(db.execute("SELECT COUNT(*) FROM node_executions WHERE cycle_id = ?", (cycle_id,)).fetchone()[0])

    def running_at(self, pipeline_id: str, node_id: str) -> list[tuple[str, str, Any]]:
        """(cycle id, execution id, input item) of every `in-progress` execution of the node in the
        pipeline's cycles (items waiting in a task node), by index: a status set on each item of a
        task in turn read every cycle of the pipeline each time."""
        with self.read() as db:
            return [(c, e, item) for c, e, item in db.execute(
                "SELECT n.cycle_id, n.id, json_extract(n.doc, '$.input.item') FROM executions c "
                "JOIN node_executions n ON n.cycle_id = c.id AND n.node_id = ? "
                "WHERE c.pipeline_id = ? AND json_extract(n.doc, '$.status') = 'in-progress' ORDER BY c.rowid, n.seq",
                (node_id, pipeline_id))]

    def execution(self, execution_id: str) -> Doc | None:
        with self.read() as db:
            rows = db.execute("SELECT id, doc FROM executions WHERE id = ?", (execution_id,)).fetchall()
            found = self._whole(db, rows)
        return found[0] if found else None

    @staticmethod
    def _whole(db: sqlite3.Connection, rows: list[Any]) -> list[Doc]:
        """The cycles of these (id, doc) rows with their node executions, in order."""
        cycles = {cycle_id: json.loads(doc) for cycle_id, doc in rows}
        ids = list(cycles)
        for at in range(0, len(ids), 500):  # below SQLite's limit on parameters
            chunk = ids[at:at + 500]
            for cycle_id, node_id, doc in db.execute(
                    f"SELECT cycle_id, node_id, doc FROM node_executions WHERE cycle_id IN ({','.join('?' * len(chunk))}) "
                    "ORDER BY cycle_id, seq", chunk):
                cycles[cycle_id]["executions"].setdefault(node_id, []).append(json.loads(doc))
        return list(cycles.values())

    def execution_bytes(self, execution_id: str) -> int:
        """The size of a cycle's stored documents, its node executions' included (0 when there is
        none), without reading them."""
        with self.read() as db:
            head = db.execute("SELECT length(CAST(doc AS BLOB)) FROM executions WHERE id = ?", (execution_id,)).fetchone()
            rows = db.execute("SELECT COALESCE(SUM(length(CAST(doc AS BLOB))), 0) FROM node_executions WHERE cycle_id = ?",
                              (execution_id,)).fetchone()
        return int(head[0]) + int(rows[0]) if head else 0

    def cycle_heads_of(self, pipeline_id: str) -> list[Doc]:
        """The pipeline's cycles without their node executions (`executions` is {}), oldest first:
        for what reads only the cycles' own fields (statistics, which items started one)."""
        with self.read() as db:
            rows = db.execute("SELECT doc FROM executions WHERE pipeline_id = ? ORDER BY rowid", (pipeline_id,))
            return [json.loads(doc) for (doc,) in rows]

    def node_execution_by_id(self, execution_id: str) -> tuple[Doc, str] | None:
        """A node execution found by its id alone, with the project of its cycle."""
        with self.read() as db:
            row = db.execute("SELECT n.doc, c.project_id FROM node_executions n JOIN executions c ON c.id = n.cycle_id "
                             "WHERE n.id = ?", (execution_id,)).fetchone()
        return (json.loads(row[0]), str(row[1])) if row else None

    def executions_of(self, pipeline_id: str) -> list[Doc]:
        with self.read() as db:
            rows = db.execute(
                "SELECT id, doc FROM executions WHERE pipeline_id = ? ORDER BY rowid", (pipeline_id,)
            ).fetchall()
            return self._whole(db, rows)

    def started_with_item(self, pipeline_id: str, item_id: str) -> bool:
        """Whether a cycle of the pipeline started with the item as its input (by index, so an
        update of many items does not read every cycle for each)."""
        with self.read() as db:
            row = db.execute(
                "SELECT 1 FROM executions WHERE pipeline_id = ? AND json_extract(doc, '$.input.item') = ? LIMIT 1",
                (pipeline_id, item_id)).fetchone()
        return row is not None

    def open_cycles(self, pipeline_id: str | None = None) -> list[Doc]:
        """The cycles still `created` or `in-progress` (of one pipeline, or all), oldest first."""
        sql, args = "SELECT id, doc FROM executions WHERE json_extract(doc, '$.status') IN ('created', 'in-progress')", []
        if pipeline_id is not None:
            sql, args = sql + " AND pipeline_id = ?", [pipeline_id]
        with self.read() as db:
            rows = db.execute(sql + " ORDER BY rowid", args).fetchall()
            return self._whole(db, rows)

    def executions_in(self, project_ids: set[str]) -> list[Doc]:
        if not project_ids:
            return []
        marks = ",".join("?" * len(project_ids))
        with self.read() as db:
            rows = db.execute(
                f"SELECT id, doc FROM executions WHERE project_id IN ({marks}) ORDER BY rowid",
                sorted(project_ids),
            ).fetchall()
            return self._whole(db, rows)

    # --- platform objects (datasets, recipes, models, services) -----------------------------

    def put_resource(
        self, kind: str, doc: Doc, *, name: str, project_id: str | None, scope: str | None,
        on_created: Callable[[sqlite3.Connection], None] | None = None,
    ) -> bool:
        """Store an object unless one with the same kind and id exists; True if it was created.

        `on_created(db)` runs in the same transaction when the object is new (e.g. to link a recipe
        into its dataset), so the two writes land together or not at all.
        """
        with self.write() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO resources (kind, id, project_id, name, scope, doc)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (kind, doc["id"], project_id, name, scope, _dumps(doc)),
            )
            created = cur.rowcount > 0
            if created and on_created is not None:
                on_created(db)
            return created

    def change_resource_in(self, db: sqlite3.Connection, kind: str, resource_id: str,
                           change: Callable[[Doc], Doc]) -> None:
        """Within a transaction of `write()`: replace an object's document with `change(doc)`."""
        row = db.execute(
            "SELECT doc FROM resources WHERE kind = ? AND id = ?", (kind, resource_id)
        ).fetchone()
        if row is not None:
            db.execute("UPDATE resources SET doc = ? WHERE kind = ? AND id = ?",
                       (_dumps(change(json.loads(row[0]))), kind, resource_id))

    def update_resource(self, kind: str, resource_id: str, change: Callable[[Doc], Doc], *,
                        name: str | None = None) -> None:
        """Atomically replace an object's document with `change(doc)` (nothing if it is missing),
        and with `name` the name it is looked up by."""
        with self.write() as db:
            self.change_resource_in(db, kind, resource_id, change)
            if name is not None:
                db.execute("UPDATE resources SET name = ? WHERE kind = ? AND id = ?", (name, kind, resource_id))

    def rename_resource(self, kind: str, resource_id: str, *, name: str, doc: Doc) -> None:
        """Replace an object's document and the name it is looked up by."""
        with self.write() as db:
            db.execute("UPDATE resources SET name = ?, doc = ? WHERE kind = ? AND id = ?",
                       (name, _dumps(doc), kind, resource_id))

    def delete_resource(self, kind: str, resource_id: str) -> bool:
        with self.write() as db:
            return db.execute("DELETE FROM resources WHERE kind = ? AND id = ?",
                              (kind, resource_id)).rowcount > 0

    def count_resources(self, kind: str, *, scope: str) -> int:
        with self.read() as db:
            return int(db.execute("SELECT COUNT(*) FROM resources WHERE kind = ? AND scope = ?",
                                  (kind, scope)).fetchone()[0])

    def resource(self, kind: str, resource_id: str) -> Doc | None:
        with self.read() as db:
            row = db.execute(
                "SELECT doc FROM resources WHERE kind = ? AND id = ?", (kind, resource_id)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def resources(
        self, kind: str, *, project_ids: set[str] | None = None, scope: str | None = None,
        name: str | None = None,
    ) -> list[Doc]:
        """Objects of a kind, optionally only in these projects / with this scope, oldest first."""
        sql = "SELECT doc FROM resources WHERE kind = ?"
        args: list[Any] = [kind]
        if project_ids is not None:
            if not project_ids:
                return []
            sql += f" AND project_id IN ({','.join('?' * len(project_ids))})"
            args.extend(sorted(project_ids))
        if scope is not None:
            sql += " AND scope = ?"
            args.append(scope)
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        with self.read() as db:
            rows = db.execute(sql + " ORDER BY rowid", args).fetchall()
        return [json.loads(r[0]) for r in rows]

    # --- commands ---------------------------------------------------------------------------

    def put_command(self, doc: Doc) -> None:
        with self.write() as db:
            db.execute("INSERT OR REPLACE INTO commands (id, doc) VALUES (?, ?)", (doc["id"], _dumps(doc)))

    def command(self, command_id: str) -> Doc | None:
        with self.read() as db:
            row = db.execute("SELECT doc FROM commands WHERE id = ?", (command_id,)).fetchone()
        return json.loads(row[0]) if row else None
