"""Pipeline routes (reference section 2): CRUD, query, lifecycle, executions, statistics, commands.

Status lifecycle: Created -(install)-> Installed -(uninstall)-> Uninstalled -(install)-> Installed.
Create and every update refuse what the platform refuses when it saves a graph, in its words
(`refusals.save_refusal`: port types, actions, one root, endless loops), storing nothing.
Install runs the graph checks, then the platform's per-node install checks
(`refusals.install_refusal`): on a failure the pipeline is stored with status `Failure`, its
composition (named at create, `compositions`) records `errorText`, and the call answers 400 with
the message (dtlpy raises BadRequest with it); a successful install deploys the start nodes'
triggers (`triggers`; pausing deactivates them unless `keepTriggersActive`) and the task nodes' tasks. A PATCH (whole document or variables) of an Installed pipeline runs the same checks and is
refused with 400, storing nothing, when the new graph would not deploy: the platform re-syncs a
running pipeline on update (reference 5.4; its exact answer is unverified), and refusing keeps
`Installed` meaning "a sound graph is deployed". Other states accept any well-formed document
(a draft is checked on install). Execute needs an Installed pipeline (400 otherwise). Every change bumps the
stored `revision` (never shown) and `updatedAt`. `POST /pipelines/query` serves the resources `pipeline`,
`pipelineState` (cycles) and `composition`. Names are unique per project (409 on a duplicate: an assumption about the platform).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.document import STATUS_FAILURE, STATUS_INSTALLED, STATUS_UNINSTALLED
from reconciler.server import compositions, dql, triggers
from reconciler.server.executions import RERUN_METHODS, statistics
from reconciler.server.graph import GraphProblem, check_graph
from reconciler.server.http import HttpError, Request, Response, Router, one_of, typed_field
from reconciler.server.ids import now_iso, object_id
from reconciler.server.pipelines import (
    for_response,
    new_document,
    parse,
    patched_document,
    stamped,
)
from reconciler.server.items import KIND as ITEM
from reconciler.server.objects import finished_command
from reconciler.server.refusals import install_refusal, save_refusal
from reconciler.server.routes_tasks import create_node_tasks
from reconciler.server.store import DuplicateName

if TYPE_CHECKING:
    from reconciler.server.app import ControlPlane

Doc = dict[str, Any]
RESUME_OPTIONS = frozenset({"terminateExistingCycles", "resumeExistingCycles"})
DEFAULT_PAGE_SIZE = 1000


def _problem_text(problems: list[GraphProblem]) -> str:
    return "; ".join(f"{p.pointer}: {p.message}" for p in problems)


def _base(request: Request) -> str:
    return request.base_url


def register(router: Router, plane: ControlPlane) -> None:
    store = plane.store

    def visible(request: Request, pipeline_id: str) -> Doc:
        doc = store.pipeline(pipeline_id)
        if doc is None or not store.is_member(doc["projectId"], request.user or ""):
            raise HttpError(404, f"Pipeline not found: {pipeline_id}")
        return doc

    def respond(request: Request, doc: Doc) -> Doc:
        return for_response(doc, base_url=_base(request))

    def update(request: Request, pipeline_id: str, change: Any) -> Doc:
        visible(request, pipeline_id)
        try:
            new = store.update_pipeline(pipeline_id, change)
        except DuplicateName:
            raise HttpError(409, "A pipeline with that name already exists in the project") from None
        if new is None:  # deleted between the check and the write
            raise HttpError(404, f"Pipeline not found: {pipeline_id}")
        return new

    def deploy_triggers(pipeline: Doc, *, creator: str) -> None:
        """The installed pipeline's triggers replace the ones its last install deployed."""
        existing = store.resources(triggers.KIND, scope=pipeline["id"])
        deployed = triggers.pipeline_triggers(pipeline, creator=creator, existing=existing)
        kept = {t["id"] for t in deployed}
        for old in existing:
            if old["id"] not in kept:
                store.delete_resource(triggers.KIND, old["id"])
        for trigger in deployed:
            if store.resource(triggers.KIND, trigger["id"]) is None:
                store.put_resource(triggers.KIND, trigger, name=trigger["name"], project_id=pipeline["projectId"],
                                   scope=pipeline["id"])
            else:
                store.rename_resource(triggers.KIND, trigger["id"], name=trigger["name"], doc=trigger)

    def create(request: Request) -> Doc:
        body = request.json_object()
        project = plane.body_project(request, body, "Pipeline")
        doc = new_document(body, project=project, user=request.user or "")
        refusal = save_refusal(parse(doc), step="create")
        if refusal is not None:
            raise HttpError(400, refusal)
        try:
            store.insert_pipeline(doc)
        except DuplicateName:
            raise HttpError(409, f"Pipeline named {doc['name']!r} already exists in the project") from None
        compositions.create(store, doc)
        return respond(request, doc)

    def get(request: Request, pipeline_id: str) -> Doc:
        return respond(request, visible(request, pipeline_id))

    def edit(body: Doc, user: str) -> Any:
        def change(cur: Doc) -> Doc:
            new = patched_document(cur, body, user=user)
            refusal = save_refusal(parse(new), step="update")
            if refusal is not None:
                raise HttpError(400, refusal)
            # An installed pipeline is deployed: its new graph must deploy too, as on install. The
            # edit is refused whole (400, nothing stored), so the running pipeline and its stored
            # document never disagree and `Installed` always means a sound graph. Checked on the
            # very document the edit replaces (update_pipeline writes only if nobody wrote since),
            # so no concurrent install or edit can slip in between.
            if cur.get("status") == STATUS_INSTALLED:
                model = parse(new)
                problems = check_graph(model)
                refused = install_refusal(model) if not problems else None
                if problems or refused is not None:
                    why = _problem_text(problems) if problems else refused[1]  # type: ignore[index]
                    raise HttpError(400, "Pipeline is installed and the update would break it (pause it "
                                         "to edit freely): " + why)
            return new

        return change

    def patch(request: Request, pipeline_id: str) -> Doc:
        body = request.json_object()
        return respond(request, update(request, pipeline_id, edit(body, request.user or "")))

    def patch_variables(request: Request, pipeline_id: str) -> Doc:
        variables = request.json_object().get("variables")
        if not isinstance(variables, list):
            raise HttpError(400, "'variables' must be a list")
        return respond(request, update(request, pipeline_id,
                                       edit({"variables": variables}, request.user or "")))

    def delete(request: Request, pipeline_id: str) -> Response:
        doc = visible(request, pipeline_id)
        store.delete_pipeline(pipeline_id)
        if doc.get("compositionId"):
            store.delete_resource(compositions.KIND, doc["compositionId"])
        for trigger in store.resources(triggers.KIND, scope=pipeline_id):
            store.delete_resource(triggers.KIND, trigger["id"])
        return Response(200, None)

    def query(request: Request) -> Doc:
        body = request.json_object()
        resource = body.get("resource", "pipeline")
        # Taken as sent (paginate refuses anything but integers): int() would quietly read
        # 1.5 or true as page 1.
        page = body.get("page", 0)
        page_size = body.get("pageSize", DEFAULT_PAGE_SIZE)
        mine = plane.visible_project_ids(request)
        if resource == "pipeline":
            docs = [respond(request, d) for d in store.pipelines_in(mine)]
        elif resource == "pipelineState":
            docs = [execution_json(request, e) for e in store.executions_in(mine)]
        elif resource == compositions.KIND:
            docs = [{**d, "url": f"{_base(request)}/compositions/{d['id']}"}
                    for d in store.resources(compositions.KIND, project_ids=mine)]
        else:
            raise HttpError(400, f"Unknown resource {resource!r}: expected 'pipeline', 'pipelineState' "
                                 "or 'composition'")
        try:
            matches = dql.compile_filter(body.get("filter"))
            found = dql.sort_documents([d for d in docs if matches(d)], body.get("sort"))
            return dql.paginate(found, page, page_size)
        except dql.DqlError as exc:
            raise HttpError(400, str(exc)) from None

    def install(request: Request, pipeline_id: str) -> Doc:
        option = one_of(request.json_object(), "resumeOption", RESUME_OPTIONS)
        user = request.user or ""
        failures: list[Doc] = []  # the errorText of a failed install

        def change(cur: Doc) -> Doc:
            failures.clear()  # run again if another write came first: only the last run counts
            model = parse(cur)
            composition_id = cur.get("compositionId") or object_id()
            found = check_graph(model)
            refused = install_refusal(model) if not found else None
            if found:
                failures[:] = [{"message": "Pipeline installation failed: " + _problem_text(found)}]
            elif refused is not None:
                node, message = refused
                failures[:] = [{"message": message, "type": node.type, "nodeId": node.id}]
            if failures:
                return stamped(dict(cur), cur, user=user, status=STATUS_FAILURE, compositionId=composition_id)
            return stamped(dict(cur), cur, user=user, status=STATUS_INSTALLED, compositionId=composition_id)

        doc = update(request, pipeline_id, change)
        if not failures:
            deploy_triggers(doc, creator=user)
            try:  # deploying: the task of each task node (outside the pipeline's write transaction)
                create_node_tasks(store, doc, creator=user)
            except HttpError as exc:
                failures[:] = [{"message": exc.message, "type": "task"}]
                doc = update(request, pipeline_id,
                             lambda cur: stamped(dict(cur), cur, user=user, status=STATUS_FAILURE))
        compositions.record(store, doc, error=failures[0] if failures else None)
        if failures:
            raise HttpError(400, failures[0]["message"])
        plane.engine.resume(doc, str(option or (doc.get("settings") or {}).get("defaultResumeOption")
                                     or "resumeExistingCycles"))
        plane.engine.load_existing(doc, user=user)
        return respond(request, doc)

    def uninstall(request: Request, pipeline_id: str) -> Doc:
        keep = typed_field(request.json_object(), "keepTriggersActive", bool)
        user = request.user or ""

        def change(cur: Doc) -> Doc:
            # Pausing a pipeline that never ran leaves it as it is; an installed (or failed) one
            # becomes Uninstalled, which the UI shows as paused.
            status = cur.get("status")
            if status in (STATUS_INSTALLED, STATUS_FAILURE):
                status = STATUS_UNINSTALLED
            return stamped(dict(cur), cur, user=user, status=status)

        doc = update(request, pipeline_id, change)
        if doc.get("compositionId"):
            compositions.record(store, doc)
        for trigger in store.resources(triggers.KIND, scope=pipeline_id):  # paused: no cycles start
            store.update_resource(triggers.KIND, trigger["id"], lambda t: {**t, "active": keep is True})
        return respond(request, doc)

    def reset(request: Request, pipeline_id: str) -> Doc:
        user = request.user or ""
        # Reset zeroes the statistics: only executions after resetTimestamp are counted.
        return respond(request, update(
            request, pipeline_id,
            lambda cur: stamped(dict(cur), cur, user=user, resetTimestamp=now_iso())))

    def execute(request: Request, pipeline_id: str) -> Doc:
        doc = visible(request, pipeline_id)
        body = request.json_object()
        if doc.get("status") != STATUS_INSTALLED:
            raise HttpError(400, f"Pipeline is not installed (status {doc.get('status')}); install it first")
        if "batch" in body:
            return batch(request, doc, body)
        spec = body.get("pipeline", {})
        if not isinstance(spec, dict):
            raise HttpError(400, "'pipeline' must be an object")
        if spec.get("input") is not None and not isinstance(spec["input"], dict):
            raise HttpError(400, "'pipeline.input' must be an object")
        return execution_json(request, plane.engine.start(doc, spec, user=request.user or "", cause=request.cycle))

    def batch(request: Request, doc: Doc, body: Doc) -> Doc:
        spec = body["batch"]
        if not isinstance(spec, dict) or not isinstance(spec.get("query", {}), dict):
            raise HttpError(400, "'batch' must be an object with a 'query' object")
        query = spec.get("query", {})
        try:
            matches = dql.compile_filter(query.get("filter"))
        except dql.DqlError as exc:
            raise HttpError(400, str(exc)) from None
        # One cycle per item of the query's datasets (dtlpy puts them in `context.datasets`) that
        # the filter matches, each with the item as its input; the command is finished at once.
        context = query.get("context")
        datasets = context.get("datasets") if isinstance(context, dict) else None
        mine = plane.visible_project_ids(request)
        started = 0
        for dataset_id in datasets if isinstance(datasets, list) else []:
            dataset = store.resource("dataset", str(dataset_id))
            if dataset is None or not set(dataset.get("projects", [])) & mine:
                raise HttpError(404, f"Dataset not found: {dataset_id}")
            for item in store.resources(ITEM, scope=dataset["id"]):
                if matches(item):
                    run = {"input": {"item": item["id"]}, "nodeId": body.get("nodeId")}
                    plane.engine.start(doc, {k: v for k, v in run.items() if v is not None}, user=request.user or "",
                                       cause=request.cycle)
                    started += 1
        return finished_command(store, request, "pipeline_execution",
                                {**spec, "pipelineId": doc["id"], "nodeId": body.get("nodeId")},
                                result={"executionsCount": started})

    def rerun(request: Request, pipeline_id: str) -> Doc:
        doc = visible(request, pipeline_id)
        body = request.json_object()
        if doc.get("status") != STATUS_INSTALLED:
            raise HttpError(400, f"Pipeline is not installed (status {doc.get('status')}); install it first")
        options = typed_field(body, "pipeline", dict, default={})
        method = one_of(options, "method", RERUN_METHODS, where="pipeline.")
        if method is None:
            raise HttpError(400, f"'pipeline.method' must be one of: {', '.join(sorted(RERUN_METHODS))}")
        start_ids = options.get("startNodeIds") or []
        if not isinstance(start_ids, list) or not all(isinstance(s, str) for s in start_ids):
            raise HttpError(400, "'pipeline.startNodeIds' must be a list of node ids")
        if method == "startFromNodes" and not start_ids:
            raise HttpError(400, "'startFromNodes' needs 'pipeline.startNodeIds'")
        batch_spec = body.get("batch") or {}
        query_spec = batch_spec.get("query") if isinstance(batch_spec, dict) else None
        try:
            matches = dql.compile_filter((query_spec or {}).get("filter"))
        except (dql.DqlError, AttributeError) as exc:
            raise HttpError(400, f"Invalid 'batch.query': {exc}") from None
        chosen = [e for e in store.executions_of(pipeline_id) if matches(e)]
        for execution in chosen:
            plane.engine.rerun(doc, execution, method=method, start_node_ids=start_ids, cause=request.cycle)
        # dtlpy's rerun(wait=True) requires spec.cycleOptions in the finished command.
        return finished_command(store, request, "pipeline_rerun_cycles",
                                {"pipelineId": pipeline_id, "query": query_spec,
                                 "cycleOptions": {"method": method, "startNodeIds": start_ids}},
                                result={"cyclesCount": len(chosen)})

    def execution_json(request: Request, execution: Doc) -> Doc:
        return {**execution, "url": f"{_base(request)}/pipelines/{execution['pipelineId']}"
                                    f"/executions/{execution['id']}"}

    def get_execution(request: Request, pipeline_id: str, execution_id: str) -> Doc:
        visible(request, pipeline_id)
        execution = store.execution(execution_id)
        if execution is None or execution["pipelineId"] != pipeline_id:
            raise HttpError(404, f"Pipeline execution not found: {execution_id}")
        return execution_json(request, execution)

    def stats(request: Request, pipeline_id: str) -> Doc:
        doc = visible(request, pipeline_id)
        return statistics(doc, store.cycle_heads_of(pipeline_id))

    def validate(request: Request) -> Doc:
        body = request.json_object()
        body.setdefault("name", "unnamed")
        model = parse(body)
        problems = check_graph(model)
        # What saving and installing it would refuse, in the platform's words, too (a save refusal
        # only when the graph checks found nothing: it would restate their type or action finding).
        refused = save_refusal(model, step="update") if not problems else None
        if refused is not None:
            problems.append(GraphProblem(refused, ""))
        node_refusal = install_refusal(model)
        if node_refusal is not None:
            node, message = node_refusal
            index = next(i for i, n in enumerate(model.nodes) if n is node)
            problems.append(GraphProblem(message, f"/nodes/{index}"))
        return {"valid": not problems, "errors": [p.as_json() for p in problems]}

    def get_composition(request: Request, composition_id: str) -> Doc:
        doc = store.resource(compositions.KIND, composition_id)
        if doc is None or doc.get("projectId") not in plane.visible_project_ids(request):
            raise HttpError(404, f"Composition not found: {composition_id}")
        return {**doc, "url": f"{_base(request)}/compositions/{doc['id']}"}

    def command(request: Request, command_id: str) -> Doc:
        doc = store.command(command_id)
        if doc is None or doc.get("creator") != request.user:
            raise HttpError(404, f"Command not found: {command_id}")
        return doc

    router.add("POST", "/pipelines", create)
    router.add("POST", "/pipelines/query", query)
    router.add("POST", "/pipelines/validate", validate)
    router.add("GET", "/pipelines/{pipeline_id}", get)
    router.add("PATCH", "/pipelines/{pipeline_id}", patch)
    router.add("DELETE", "/pipelines/{pipeline_id}", delete)
    router.add("PATCH", "/pipelines/{pipeline_id}/variables", patch_variables)
    router.add("POST", "/pipelines/{pipeline_id}/install", install)
    router.add("POST", "/pipelines/{pipeline_id}/uninstall", uninstall)
    router.add("POST", "/pipelines/{pipeline_id}/reset", reset)
    router.add("POST", "/pipelines/{pipeline_id}/execute", execute)
    router.add("GET", "/pipelines/{pipeline_id}/statistics", stats)
    router.add("POST", "/pipelines/{pipeline_id}/executions/rerun", rerun)
    router.add("GET", "/pipelines/{pipeline_id}/executions/{execution_id}", get_execution)
    router.add("GET", "/commands/{command_id}", command)
    router.add("GET", "/compositions/{composition_id}", get_composition)
