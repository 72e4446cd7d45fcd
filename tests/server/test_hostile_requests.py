"""A hostile corpus against every route of the local control plane, over real HTTP: 0 answers 5xx.

The routes are read from the server's own router, so a route added later is attacked too. Each is
called with auth variants, another tenant's token, traversal and badly encoded path segments, and
bodies whose fields take every JSON type, deep nesting and lone surrogates. A 5xx is a crash the
client provoked; every bad input must be a 4xx with a message instead.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from reconciler.server.http import MAX_JSON_DEPTH

if TYPE_CHECKING:
    from conftest import Api

DATASET, RECIPE, MODEL, SERVICE = (f"5f00000000000000000000a{n}" for n in range(4))


def nested(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for index in range(levels):
        value = [value] if index % 2 else {"k": value}
    return value


def nested_text(levels: int) -> str:
    """Nesting as raw JSON text, for depths Python's own json.dumps could not write."""
    return "[" * levels + "1" + "]" * levels


# Every value a field might meet: each JSON type, unhashable ones, deep ones, invalid Unicode.
HOSTILE_VALUES: dict[str, Any] = {
    "list": ["owner"],
    "object": {"a": {}},
    "number": -1,
    "float": 1e308,
    "bool": True,
    "null": None,
    "empty": "",
    "surrogate": "name\ud800",
    "nul": "a\x00b",
    "deep": nested(300),
    # JSON inside a string (a filter, a query, item metadata): the edge sees only a string.
    "json text deep": nested_text(900),
    "json text surrogate": '{"name": "\\ud800", "\\udc00": ["\\ud800"]}',
}

# Sent in each field of an otherwise sound body, one field at a time (every value is also sent in all
# fields at once): the types a handler may take for granted.
PER_FIELD = ("list", "object", "number", "bool", "empty", "surrogate", "json text deep")

# The fields the routes read, and some they might read; dotted keys are nested objects.
FIELDS = (
    "name", "projectId", "projects", "nodes", "connections", "startNodes", "variables", "settings",
    "description", "status", "resumeOption", "keepTriggersActive", "pipeline", "pipeline.method",
    "pipeline.input", "pipeline.startNodeIds", "batch", "batch.query", "batch.query.filter", "nodeId",
    "filter", "filter.name", "sort", "page", "pageSize", "context", "context.projects", "resource",
    "kind", "id", "scope", "role", "createDefaultRecipe", "title", "dataset", "datasetId", "query",
    "allowMany", "attributes", "availableActions", "cloneDatasetParams", "delete", "dueDate", "input",
    "integrationId", "itemIds", "labels", "labelsNode", "limit", "metadata", "ontologyIds", "operation",
    "options", "packageId", "position", "priority", "projectIds", "recipeId", "remoteFileName", "roots",
    "spec", "startNodeIds", "statusPayload", "system", "targetDatasetId", "taskOwner",
    "triggerToPipeline", "type", "uiSettings", "update", "upsert", "variableDataset", "workload",
)


def with_field(base: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(base))
    *parents, last = dotted.split(".")
    target = body
    for key in parents:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[last] = value
    return body


class Corpus:
    """Sends requests and remembers every 5xx (with what was sent), for one assertion at the end."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.failures: list[str] = []
        self.sent = 0
        self.conn = http.client.HTTPConnection("127.0.0.1", api.server.port, timeout=60)

    def raw(self, method: str, path: str, body: bytes | None = None, *,
            headers: dict[str, str] | None = None, note: str = "") -> int:
        """A request with the path sent byte for byte (no client normalises it first); its status."""
        return self.exchange(method, path, body, headers=headers, note=note)[0]

    def exchange(self, method: str, path: str, body: bytes | None = None, *,
                 headers: dict[str, str] | None = None, note: str = "") -> tuple[int, bytes]:
        sent_headers = {"authorization": f"Bearer {self.api.token}", "content-type": "application/json",
                        **(headers or {})}
        sent_headers = {k: v for k, v in sent_headers.items() if v is not None}
        if body is not None:
            sent_headers["content-length"] = str(len(body))
        try:
            self.conn.request(method, "/api/v1" + path, body=body, headers=sent_headers)
            response = self.conn.getresponse()
            payload = response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()  # the server dropped the connection: not a 5xx, reconnect
            self.conn = http.client.HTTPConnection("127.0.0.1", self.api.server.port, timeout=60)
            return 0, b""
        self.sent += 1
        if response.status >= 500:
            self.failures.append(f"{response.status} {method} {path[:120]} {note}: {payload[:200]!r}")
        return response.status, payload

    def send(self, method: str, path: str, body: Any = None, *, note: str = "", **kw: Any) -> int:
        data = None if body is None else json.dumps(body).encode()
        return self.raw(method, path, data, note=note, **kw)

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def corpus(api: Api) -> Iterator[Corpus]:
    c = Corpus(api)
    yield c
    c.close()


def _world(api: Api) -> dict[str, str]:
    """Real objects of the default user, one of each kind, keyed by the path parameter naming them."""
    pid = api.project_id
    for kind, rid, name, scope in (("dataset", DATASET, "frames", None), ("recipe", RECIPE, "r", DATASET),
                                   ("model", MODEL, "m", None), ("service", SERVICE, "s", None)):
        api.ok(api.post("/loopform/provision", {"kind": kind, "name": name, "id": rid, "projectId": pid,
                                                "scope": scope}))
    pipeline = api.ok(api.post("/pipelines", api.sample("victim")))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    execution = api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {}}}))
    command = api.ok(api.post(f"/pipelines/{pipeline['id']}/execute",
                              {"batch": {"query": {"filter": {}}}}))
    recipe = api.ok(api.get(f"/recipes/{RECIPE}"))
    project = api.ok(api.get(f"/projects/{pid}"))
    dataset = api.ok(api.post("/datasets", {"name": "tasked", "projects": [pid]}))
    made = {
        "item_id": api.post(f"/datasets/{dataset['id']}/items", {"type": "dir", "path": "/folder"}),
        "task_id": api.post("/annotationtasks", {"name": "t", "projectId": pid, "datasetId": dataset["id"],
                                                 "recipeId": dataset["metadata"]["system"]["recipes"][0],
                                                 "assignmentIds": []}),
        "package_id": api.post("/packages", {"name": "cutter", "projectId": pid}),
        "bot_id": api.post(f"/projects/{pid}/bots", {"name": "robot"}),
        "integration_id": api.post(f"/orgs/{project['org']['id']}/integrations", {"name": "i", "type": "s3"}),
    }
    # The objects of the newer routes, where their creation takes a body this simple (else the
    # routes meet an unknown id, as they do with every other parameter).
    others = {key: response.json()["id"] for key, response in made.items() if response.status_code == 200}
    return {**others, "project_id": pid, "pipeline_id": pipeline["id"], "execution_id": execution["id"],
            "command_id": command["id"], "dataset_id": DATASET, "recipe_id": RECIPE, "model_id": MODEL,
            "service_id": SERVICE, "ontology_id": recipe["ontologyIds"][0], "org_id": project["org"]["id"],
            "composition_id": api.ok(api.get(f"/pipelines/{pipeline['id']}"))["compositionId"],
            "name": "local", "email": "bob@example.com"}


def _routes(api: Api) -> list[tuple[str, str]]:
    """(method, template) of every route; those that end an object's life (delete, uninstall) last,
    so that the others meet the objects alive."""
    routes = [(method, pattern.pattern) for method, pattern, _ in api.server.control_plane._router._routes]
    templates = [(m, re.sub(r"\(\?P<(\w+)>\[\^/\]\+\)", r"{\1}", p).strip("^$")) for m, p in routes]
    return sorted(templates, key=lambda route: (route[0] == "DELETE", route[1].endswith("/uninstall")))


def _fill(template: str, values: dict[str, str], default: str = "5f00000000000000000000ff") -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), default), template)


def test_no_route_answers_5xx_to_a_hostile_corpus(api: Api, corpus: Corpus) -> None:
    world = _world(api)
    base = {**api.sample("base"), "projectId": world["project_id"], "role": "engineer",
            "filter": {"name": "x"}, "kind": "dataset", "id": DATASET, "projects": [world["project_id"]]}
    # The caller's own objects (the organisation is every local project's, so not private).
    private = {key: value for key, value in world.items() if key.endswith("_id") and key != "org_id"}
    eve = api.server.control_plane.mint_token("eve@example.com")
    expired = api.server.control_plane.mint_token(ttl_seconds=-10)
    auth_variants = [None, "Bearer", "Bearer x", f"Basic {api.token}", f"Bearer {expired}",
                     f"Bearer {api.token}x", "Bearer " + "a" * 10_000, f"bearer  {api.token} ",
                     "Bearer \xe9\xff.\xe9.\xe9", "Bearer " + api.token.replace(".", ".\xe9", 1)]
    segments = ["..", "%2e%2e", "..%2f..%2fetc%2fpasswd", "%00", "%ff%fe", "%ed%a0%80", "%c0%af",
                "a" * 5000, "%25", "$where", "{}", "\\", "%2F"]
    raw_bodies = [b"{", b"[]", b'"x"', b"null", b"\xff\xfe\x00", b'{"name": NaN}', b'{"a": Infinity}',
                  b'{"name": "\\ud800"}', b'{"\\udc00": 1}', nested_text(900).encode(),
                  nested_text(50_000).encode(), b'{"name": 1' + b"0" * 5000 + b"}",
                  json.dumps({"name": "x"}).encode("utf-16"), b"\x00" * 64]

    for method, template in _routes(api):
        path = _fill(template, world)
        for header in auth_variants:
            corpus.send(method, path, {}, headers={"authorization": header}, note=f"auth {header!r:.40}")
        # Another tenant: never a 5xx, and never the objects (an error may echo an id from the path).
        status, payload = corpus.exchange(method, path, b"{}", headers={"authorization": f"Bearer {eve}"},
                                          note="eve")
        if status < 400:
            assert not [key for key, value in private.items() if value.encode() in payload], (method, template)
        for segment in segments:
            corpus.send(method, _fill(template, {}, default=segment), {}, note=f"segment {segment[:20]}")
        corpus.send(method, path + "?page=%ff&pageSize=-1&projects=%ed%a0%80&title=%00", {}, note="query")
        if method in ("GET", "DELETE"):
            continue
        for raw in raw_bodies:
            corpus.raw(method, path, raw, note=f"raw {raw[:30]!r}")
        corpus.raw(method, path, b"name=%ff%ed%a0%80", note="form",
                   headers={"content-type": "application/x-www-form-urlencoded"})
        for label, value in HOSTILE_VALUES.items():
            corpus.send(method, path, value, note=f"body {label}")
            corpus.send(method, path, {field: value for field in FIELDS}, note=f"all fields {label}")
            if label not in PER_FIELD:
                continue
            for field in FIELDS:
                corpus.send(method, path, with_field(base, field, value), note=f"{field}={label}")
    assert corpus.sent > 1000
    assert not corpus.failures, "\n".join(corpus.failures)


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 300, 600, 900])
def test_deep_documents_are_refused_with_400_wherever_they_hide(api: Api, levels: int) -> None:
    pid = api.project_id
    created = api.ok(api.post("/pipelines", api.sample("deep")))
    deep = json.loads(nested_text(levels))
    node_metadata = api.sample("deep-node")
    node_metadata["nodes"][0]["metadata"]["extra"] = deep
    for method, path, body in [
        ("POST", "/pipelines", node_metadata),
        ("PATCH", f"/pipelines/{created['id']}", {"nodes": node_metadata["nodes"]}),
        ("PATCH", f"/pipelines/{created['id']}/variables",
         {"variables": [{"name": "v", "type": "Json", "value": deep}]}),
        ("POST", "/pipelines/query", {"filter": {"name": deep}}),
        ("POST", "/projects", {"name": "p", "extra": deep}),
        ("POST", "/loopform/provision", {"kind": "dataset", "name": "d", "id": "1", "projectId": pid,
                                         "extra": deep}),
    ]:
        response = api.call(method, path, data=json.dumps(body), headers={"content-type": "application/json"})
        assert response.status_code == 400, (path, response.text[:200])
        assert f"{MAX_JSON_DEPTH} levels" in response.json()["message"]
    assert api.ok(api.get(f"/pipelines/{created['id']}")) == created  # nothing was stored


def test_documents_as_deep_as_allowed_are_stored_and_read_back(api: Api) -> None:
    # The limit counts the body's own levels: the deepest accepted body round-trips intact.
    doc = api.sample("at-the-limit")
    doc["variables"] = [{"name": "v", "type": "Json", "value": nested(MAX_JSON_DEPTH - 3)}]
    created = api.ok(api.post("/pipelines", doc))
    assert api.ok(api.get(f"/pipelines/{created['id']}"))["variables"][0]["value"] == doc["variables"][0]["value"]


@pytest.mark.parametrize("body", [
    '{"name": "pipe\\ud800", "projectId": "%s"}',
    '{"name": "pipe\\udfff\\ud800", "projectId": "%s"}',
    '{"name": "ok", "projectId": "%s", "description": "\\ud83d"}',
    '{"name": "ok", "projectId": "%s", "settings": {"\\ud800": 1}}',
])
def test_lone_surrogates_are_refused_with_400(api: Api, body: str) -> None:
    response = api.call("POST", "/pipelines", data=body % api.project_id,
                        headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert "Unicode" in response.json()["message"]
    # A real astral character (a surrogate pair in JSON) is valid Unicode and kept as sent.
    pair = api.call("POST", "/pipelines", data='{"name": "ok \\ud83d\\ude00", "projectId": "%s"}' % api.project_id,
                    headers={"content-type": "application/json"})
    assert api.ok(pair)["name"] == "ok \U0001f600"


def test_project_names_with_lone_surrogates_are_refused(api: Api) -> None:
    response = api.call("POST", "/projects", data='{"name": "demo\\ud800"}',
                        headers={"content-type": "application/json"})
    assert response.status_code == 400 and "Unicode" in response.json()["message"]


def test_a_path_that_is_not_utf8_is_400(api: Api, corpus: Corpus) -> None:
    assert corpus.raw("GET", "/projects/%ff%fe/name") == 400
    assert corpus.raw("GET", "/projects/d%C3%A9mo/name") == 404  # valid UTF-8: looked up, not found


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/pipelines/{pipeline}/install", {"resumeOption": []}, "resumeOption"),
    ("/pipelines/{pipeline}/install", {"resumeOption": {"a": 1}}, "resumeOption"),
    ("/projects/{project}/members/bob@example.com", {"role": ["owner"]}, "role"),
    ("/projects/{project}/members/bob@example.com", {"role": 1}, "role"),
    ("/pipelines/{pipeline}/executions/rerun", {"pipeline": {"method": ["startFromBeginning"]}},
     "pipeline.method"),
    ("/datasets", {"name": "d", "projects": ["{project}"], "createDefaultRecipe": "no"},
     "createDefaultRecipe"),
])
def test_fields_of_the_wrong_type_are_400_naming_the_field(api: Api, path: str, body: dict[str, Any],
                                                           field: str) -> None:
    created = api.ok(api.post("/pipelines", api.sample("typed")))
    api.ok(api.post(f"/pipelines/{created['id']}/install", {}))
    fill = {"{pipeline}": created["id"], "{project}": api.project_id}
    for key, value in fill.items():
        path = path.replace(key, value)
    text = json.dumps(body)
    for key, value in fill.items():
        text = text.replace(key, value)
    response = api.call("POST", path, data=text, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert f"'{field}'" in response.json()["message"]


@pytest.mark.parametrize("text", [nested_text(5000), nested_text(MAX_JSON_DEPTH + 1),
                                  '{"name": "\\ud800"}'])
def test_json_inside_a_string_is_held_to_the_same_limits(api: Api, text: str) -> None:
    # A connection's condition, a trigger's filter, a task's query and an item's metadata are JSON
    # sent as strings: the edge sees a string, so each is parsed under the body's own limits.
    pid = api.project_id
    doc = api.sample("json-in-strings")
    doc["connections"][1]["condition"] = text
    doc["startNodes"][0]["trigger"] = {"type": "Event", "spec": {"filter": text, "resource": "Item",
                                                                 "executionMode": "Once", "actions": ["Created"]}}
    checked = api.ok(api.post("/pipelines/validate", doc))
    assert "/connections/1/condition" in [e["pointer"] for e in checked["errors"]]
    created = api.ok(api.post("/pipelines", doc))
    install = api.post(f"/pipelines/{created['id']}/install", {})
    assert install.status_code == 400 and "condition" in install.json()["message"]
    dataset = api.ok(api.post("/datasets", {"name": "frames", "projects": [pid]}))
    recipe = dataset["metadata"]["system"]["recipes"][0]
    task = api.post("/annotationtasks", {"name": "t", "projectId": pid, "datasetId": dataset["id"],
                                         "recipeId": recipe, "query": text, "assignmentIds": []})
    assert task.status_code == 400 and "'query'" in task.json()["message"]
    item = api.post(f"/datasets/{dataset['id']}/items", {"metadata": text, "type": "dir", "path": "/x"})
    assert item.status_code == 400 and "'metadata'" in item.json()["message"]
