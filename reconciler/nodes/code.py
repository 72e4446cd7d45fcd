"""The code node: a function of the spec's own code (`code:` inline or a `source:` file).

The platform builds a service for the inline code at install time and writes its generated names
back (`serviceName`/`packageName` "p-<hex>", `moduleName` "code_module", `projectName`) plus
`metadata.codeApplicationName`. Comparing them would show a permanent diff after every install, so
they are server-owned (`server_namespace`, `server_metadata`: normalize drops them) and compile
carries the live values on update unless the spec sets them (`keep_live`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator, StringConstraints

from reconciler.document import Node
from reconciler.nodes.base import CodeRef, CompileContext, ExportContext, NodeType, PlatformParts, RunContext, RunOutcome
from reconciler.nodes.view import NameLookup, SpecView, nonempty_str
from reconciler.spec.fields import NodeSpecBase, NonEmpty

if TYPE_CHECKING:
    from reconciler.spec.models import AnyNode


# -- the spec model -------------------------------------------------------------------------------

class CodeNode(NodeSpecBase):
    """Python code run by the platform: inline `code` or a `source` file (exactly one)."""

    type: Literal["code"] = Field(description="Node type.", examples=["code"])
    function: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = Field(
        default="run", description="Entry-point function name.", examples=["run"]
    )
    code: NonEmpty | None = Field(
        default=None,
        description="Inline Python source.",
        examples=["import dtlpy as dl\n\nclass ServiceRunner(dl.BaseServiceRunner):\n    ..."],
    )
    source: NonEmpty | None = Field(
        default=None,
        description="Path of a Python file, relative to the spec file.",
        examples=["snippets/cut_frames.py"],
    )
    packageName: NonEmpty | None = Field(
        default=None, description="Package name the code is deployed as.", examples=["cut-frames"]
    )

    @model_validator(mode="after")
    def _code_xor_source(self) -> CodeNode:
        if (self.code is None) == (self.source is None):
            raise ValueError("a code node needs exactly one of `code` (inline) or `source` (a file)")
        return self


# -- the type -------------------------------------------------------------------------------------


# In the order an update writes them back.
_GENERATED_NAMES = ("serviceName", "packageName", "moduleName", "projectName")


class Code(NodeType):
    spec_type = "code"
    platform_type = "code"
    model = CodeNode
    summary_fields = ("function",)
    server_namespace = frozenset(_GENERATED_NAMES)
    server_metadata = frozenset({"codeApplicationName"})
    schema_exactly_one = ("code", "source")

    def to_platform(self, key: str, node: AnyNode, ctx: CompileContext) -> PlatformParts:
        assert isinstance(node, CodeNode)
        ns: dict[str, Any] = {"functionName": node.function}
        if ctx.project_name:
            ns["projectName"] = ctx.project_name
        if node.packageName is not None:
            ns["packageName"] = node.packageName
        code = ctx.code_of(key)
        config = {"package": {"code": code if code is not None else node.code or "", "name": node.function,
                              "type": "code"}}
        return PlatformParts(type=self.platform_type, namespace=ns, config=config)

    def keep_live(self, node: AnyNode, parts: PlatformParts, matched: Node) -> None:
        assert isinstance(node, CodeNode)
        # Names the platform generated at install (see server_namespace): keep them on update,
        # unless the spec sets them itself.
        for f in _GENERATED_NAMES:
            value = getattr(matched.namespace, f)
            spec_sets = f in (node.namespace or {}) or (f == "packageName" and node.packageName)
            if value is not None and not spec_sets:
                parts.namespace[f] = value
        if "codeApplicationName" in matched.metadata:
            parts.metadata["codeApplicationName"] = matched.metadata["codeApplicationName"]

    def from_platform(self, key: str, node: Node, ctx: ExportContext) -> dict[str, Any]:
        ns = node.namespace
        out: dict[str, Any] = {}
        if ns.functionName and ns.functionName.isidentifier() and ns.functionName != "run":
            out["function"] = ns.functionName
        package = (node.config or {}).get("package") or {}
        code = package.get("code") if isinstance(package, dict) else None
        text = code if isinstance(code, str) and code else "# (no code)\n"
        if ctx.code_path is not None:
            ctx.code_files[ctx.code_path] = text
            out["source"] = ctx.code_path
        else:
            out["code"] = text
        return out

    def spec_view(self, view: SpecView, names: NameLookup) -> None:
        fn = view.namespace.get("functionName")
        view.take("function", "namespace.functionName", nonempty_str)
        package = (view.node.get("config") or {}).get("package")
        if isinstance(package, dict) and view.usable("config.package") \
                and set(package) <= {"code", "name", "type"} and package.get("type", "code") == "code" \
                and package.get("name", fn) == fn and isinstance(package.get("code"), str):
            view.put("code", package["code"], "config.package")

    def code(self, node: AnyNode) -> CodeRef | None:
        assert isinstance(node, CodeNode)
        return CodeRef(inline=node.code, source=node.source)

    def run(self, node: dict[str, Any], inputs: dict[str, Any], ctx: RunContext) -> RunOutcome:
        # The spec's Python, in its own process (the engine's runner): an exception fails this
        # execution with its traceback; the function's result flows on through the output ports.
        package = (node.get("config") or {}).get("package") or {}
        code = package.get("code") if isinstance(package, dict) else None
        function = (node.get("namespace") or {}).get("functionName") or "run"
        ports = [{**port, "value": inputs.get(port.get("name"))} for port in node.get("inputs") or []]
        result = ctx.run_code(code if isinstance(code, str) else "", function, ports, list(node.get("outputs") or []))
        if result.error is not None:
            return RunOutcome(status="failed", message=result.error, log=result.log)
        return RunOutcome(status="success", outputs=result.outputs, log=result.log)


TYPE = Code()
