"""Run one code node's function: the program of one execution, in a process of its own.

The engine starts it in a fresh interpreter, or (Linux) `zygote.py` forks it from a warm parent
that has imported dtlpy's libraries (not dtlpy) and calls `run`. Reads its request (JSON) on
stdin: the code, the function's name, the input ports with their values, the output ports, and
where this control plane answers with a token scoped to the pipeline's project. dtlpy is pointed
at that control plane before the user's code runs, so the code meets the same SDK it meets on
Dataloop. Writes `{"outputs": {...}}` or `{"error": traceback}` to the result file named in the
request; everything the code prints is the execution's log.

Standalone on purpose: it imports nothing of Loopform, so nothing of the server comes along.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from typing import Any


def _configure_dtlpy(request: dict[str, Any]) -> Any:
    import dtlpy as dl  # type: ignore[import-untyped]

    # dtlpy's own warnings about this setup (plain http on loopback) are not the user's log
    logging.getLogger("dtlpy").setLevel(logging.ERROR)
    api_url = request["api_url"]
    root = api_url.rsplit("/api/v1", 1)[0]
    dl.add_environment(environment=api_url, alias="loopform-local", gate_url=root, url=root + "/",
                       verify_ssl=False)
    dl.setenv("loopform-local")
    dl.login_token(request["token"])
    return dl


def _argument(dl: Any, port: dict[str, Any]) -> Any:
    value, kind = port.get("value"), port.get("type")
    if value is None:
        return None
    if kind == "Item":
        return dl.items.get(item_id=value)
    if kind == "Item[]":
        return [dl.items.get(item_id=v) for v in value]
    if kind == "Dataset":
        return dl.datasets.get(dataset_id=value)
    return value


def _plain(dl: Any, value: Any) -> Any:
    """A returned value as it flows on: entities by id, lists element by element."""
    if isinstance(value, (list, tuple)):
        return [_plain(dl, v) for v in value]
    if isinstance(value, (dl.entities.Item, dl.entities.Dataset, dl.entities.Model)):
        return value.id
    if isinstance(value, dl.entities.Annotation):  # not uploaded (no id): as the platform's JSON
        return value.id or value.to_json()
    json.dumps(value)  # anything else must be JSON (raises TypeError otherwise)
    return value


def _function(namespace: dict[str, Any], name: str) -> Any:
    runner = namespace.get("ServiceRunner")
    if isinstance(runner, type) and callable(getattr(runner, name, None)):
        return getattr(runner(), name)
    found = namespace.get(name)
    if not callable(found):
        raise NameError(f"the code defines no function {name!r} (nor a ServiceRunner method of that name)")
    return found


def _package_function(package: dict[str, Any], name: str) -> Any:
    """`name` of the module's class (`className`, made with the service's `initParams`) in the
    package's code, unpacked from its zip; `entryPoint` is a file of it."""
    import importlib.util
    import zipfile

    root = os.path.join(os.path.dirname(package["zip_path"]), "package")
    with zipfile.ZipFile(package["zip_path"]) as archive:
        for member in archive.namelist():  # nothing may land outside the package folder
            target = os.path.realpath(os.path.join(root, member))
            if not target.startswith(os.path.realpath(root) + os.sep):
                raise ValueError(f"the package's zip holds a path outside it: {member!r}")
        archive.extractall(root)
    sys.path.insert(0, root)
    spec = importlib.util.spec_from_file_location("loopform_package_entry", os.path.join(root, package["entry_point"]))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the entry point {package['entry_point']!r}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    runner = getattr(module, package.get("class_name") or "ServiceRunner", None)
    if isinstance(runner, type):
        return getattr(runner(**(package.get("init_params") or {})), name)
    return getattr(module, name)


# What the platform's model-management service calls on the adapter for an ml node's function
# (dtlpy's BaseModelAdapter): items functions get the node's one item as a list.
_ADAPTER_METHODS = {"predict": "predict_items", "embed": "embed_items", "train": "train_model",
                    "evaluate": "evaluate_model"}


def _adapter_function(dl: Any, adapter: dict[str, Any], name: str) -> Any:
    """`name` of the model's adapter (its class made, the model set and loaded, as the platform's
    service does before it calls the function), shaped like a node function: keyword inputs in,
    one value per output port out."""
    import tempfile

    namespace: dict[str, Any] = {"__name__": "__main__.adapter"}
    exec(compile(adapter["code"], "<model adapter>", "exec"), namespace)
    cls = namespace.get(adapter["class_name"])
    if not isinstance(cls, type):
        raise NameError(f"the adapter file defines no class {adapter['class_name']!r}")
    instance = cls()
    if adapter.get("model_id"):
        instance.model_entity = dl.models.get(model_id=adapter["model_id"])
    instance.load(local_path=tempfile.mkdtemp(prefix="model-"))  # no artifacts are kept locally
    method = getattr(instance, _ADAPTER_METHODS.get(name, name))

    def call(**kwargs: Any) -> Any:
        if name in ("predict", "embed"):
            item = kwargs.get("item")
            found, second = method(items=[item] if item is not None else [])
            return (found[0] if found else None), second
        return method(**kwargs)

    return call


def limit_resources(cpu_seconds: int, memory_bytes: int) -> None:
    """CPU seconds and address space of this process (and what it starts), where the platform has
    setrlimit; the engine's wall-clock timeout holds everywhere."""
    try:
        import resource
    except ImportError:
        return
    for name, value in (("RLIMIT_CPU", cpu_seconds), ("RLIMIT_AS", memory_bytes)):
        which = getattr(resource, name, None)
        if which is not None:
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                pass


def run(request: dict[str, Any]) -> int:
    result: dict[str, Any]
    try:
        dl = _configure_dtlpy(request)
        if "package" in request:
            function = _package_function(request["package"], request["function"])
        elif "adapter" in request:
            function = _adapter_function(dl, request["adapter"], request["function"])
        else:
            namespace: dict[str, Any] = {"__name__": "__main__.node"}
            exec(compile(request["code"], "<node code>", "exec"), namespace)
            function = _function(namespace, request["function"])
        kwargs = {p["name"]: _argument(dl, p) for p in request["inputs"]}
        returned = function(**kwargs)
        outputs = [p["name"] for p in request["outputs"]]
        if len(outputs) > 1:
            values = list(returned) if isinstance(returned, (list, tuple)) else [returned]
            if len(values) != len(outputs):
                raise ValueError(f"the function returned {len(values)} values for {len(outputs)} output ports")
        else:
            values = [returned]
        result = {"outputs": {name: _plain(dl, value) for name, value in zip(outputs, values, strict=False)}}
    except BaseException:  # noqa: BLE001 - whatever the user's code raises fails this execution
        result = {"error": traceback.format_exc()}
    sys.stdout.flush()
    sys.stderr.flush()
    with open(request["result_path"], "w", encoding="utf-8") as out:
        json.dump(result, out)
    return 0


def main() -> int:
    return run(json.loads(sys.stdin.read()))


if __name__ == "__main__":
    os.environ.pop("PYTHONSTARTUP", None)
    sys.exit(main())
