"""Loading spec files: paths -> parsed, validated `SpecFile`s plus every located problem.

`load()` never raises for bad input: each problem becomes a `SpecError` (or a warning) in
`LoadResult.errors`, so one run reports everything. It also reads the code files that code nodes
name in `source:`, so that compile stays pure (no file access) and the spec digest covers them.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from reconciler import collector
from reconciler.errors import Location, SpecError
from reconciler.interpolate import Context, ValueBudget, interpolate
from reconciler.interpolate import Result as Interpolated
from reconciler.spec.checks import spec_findings
from reconciler.spec.graph import Edge, Finding, resolve_edges
from reconciler.spec.messages import translate
from reconciler.nodes import for_spec as node_type
from reconciler.nodes.base import CodeRef
from reconciler.settings_file import PROJECT_FILE
from reconciler.spec import for_each
from reconciler.spec.models import PipelineSpec
from reconciler.spec.modules import ModuleFiles, expand, is_module_document, module_file_errors, uses_modules
from reconciler.spec.salvage import Salvage, salvage
from reconciler.spec.source import MAX_EXPANDED_VALUES, SourceDocument, read_bytes, read_source
from reconciler.spec.values import is_reference, pointer_escape

if TYPE_CHECKING:
    from reconciler.test_files import PipelineTestFile

SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SpecFile:
    """A spec file that parsed and matched the models (graph checks may still have failed).

    `code` maps a code node's key to its source text (inline `code:` or the `source:` file's
    content); `digest` is the sha256 of the file bytes and of those code files.
    """

    path: Path
    spec: PipelineSpec
    digest: str
    code: dict[str, str] = field(default_factory=dict)
    source: SourceDocument | None = field(default=None, repr=False, compare=False)
    # The module files that built it (path relative to the spec's directory -> sha256 of the file),
    # see reconciler.spec.modules.
    modules: dict[str, str] = field(default_factory=dict)
    # connection pointer -> how its ends were written, where they name module ports (see
    # reconciler.spec.modules.Expansion.through): the graph checks name the expanded ends
    through: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    # The connections resolved to edges by the checks, when every one resolved: compile takes them
    # rather than resolving the graph again (reconciler.spec.graph.resolve_edges).
    edges: tuple[Edge, ...] | None = field(default=None, repr=False, compare=False)

    def locate(self, pointer: str) -> Location:
        """File location of a JSON pointer into the spec (its nearest located ancestor)."""
        if self.source is None:
            return Location(str(self.path), 1, 1, pointer)
        return self.source.locate(pointer)

    @classmethod
    def from_data(cls, data: Any, *, path: str = "<spec>") -> tuple[SpecFile | None, list[SpecError]]:
        """A SpecFile from already-parsed data (e.g. a request body); no file, no line numbers.

        Inline code only: a `source:` path cannot be read without a file, and is reported.
        """
        doc = SourceDocument(path=path, data=data)
        if uses_modules(data) or (isinstance(data, dict) and for_each.FOR_EACH in data):
            # both are read from files (a module relative to its spec); here there is none
            return None, [SpecError("module uses and forEach need a spec file; send the expanded pipeline "
                                    "(as `loopform export` writes it)", doc.locate(""))]
        spec, errors = _validate(doc)
        if spec is None:
            return None, errors
        code: dict[str, str] = {}
        for key, node in spec.spec.nodes.items():
            ref = node_type(node).code(node)
            if ref is not None:
                if ref.inline is not None:
                    code[key] = ref.inline
                else:
                    errors.append(
                        SpecError(
                            "a code `source:` file cannot be read here; inline the code with `code:`",
                            doc.locate(f"/spec/nodes/{pointer_escape(key)}/source"),
                        )
                    )
        digest = hashlib.sha256(spec.model_dump_json(by_alias=True).encode()).hexdigest()
        return cls(path=Path(path), spec=spec, digest=digest, code=code, source=doc), errors


@dataclass
class LoadResult:
    specs: list[SpecFile] = field(default_factory=list)
    errors: list[SpecError] = field(default_factory=list)  # warnings too (severity "warning")
    files: int = 0  # spec files looked at

    @property
    def ok(self) -> bool:
        return not any(e.severity == "error" for e in self.errors)

    @property
    def error_count(self) -> int:
        return sum(1 for e in self.errors if e.severity == "error")

    @property
    def warning_count(self) -> int:
        return sum(1 for e in self.errors if e.severity == "warning")


def _validate(doc: SourceDocument) -> tuple[PipelineSpec | None, list[SpecError]]:
    if not isinstance(doc.data, dict):
        return None, [SpecError("a spec must be a mapping", doc.locate(""))]
    try:
        return PipelineSpec.model_validate(doc.data), []
    except ValidationError as exc:
        return None, translate(exc, doc)


def _shown(path: Path) -> str:
    """A path for messages: as the user wrote it, or relative when it is under the working directory."""
    if not path.is_absolute():
        return str(path)
    try:
        relative = path.relative_to(Path.cwd())
    except (ValueError, OSError):  # elsewhere, or the working directory is gone
        return str(path)
    return str(relative)


def _skipped(name: str) -> bool:
    """Files a directory walk passes over: hidden ones (`.pre-commit-hooks.yaml`) and the project
    file, which are YAML but not specs."""
    return name.startswith(".") or name == PROJECT_FILE


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[SpecError]]:
    """Spec files under `paths`: files as given, directories searched for *.yaml/*.yml, sorted.

    The walk skips hidden directories (`.git`, `.github`, `.loopform`), hidden files and
    `loopform.yaml`, so that `loopform validate .` in a repository checks the specs only.

    Directories are walked without following symbolic links to directories (no loops); a file
    link that loops or dangles is still listed, so that reading it reports the problem. A path
    given explicitly is read as a file even when it is a directory named like one (an error).
    A file reached twice (spelled differently, or through a link) is listed once.
    """
    found: list[Path] = []
    errors: list[SpecError] = []
    for path in paths:
        if os.path.isdir(path) and not str(path).rstrip("/").endswith(SPEC_SUFFIXES):
            walk_errors: list[OSError] = []
            for root, dirs, files in os.walk(path, onerror=walk_errors.append):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in files:
                    if name.endswith(SPEC_SUFFIXES) and not _skipped(name):
                        found.append(Path(root) / name)
                for name in dirs:
                    # a symlink to a directory is not followed; report it only if named like a spec
                    if name.endswith(SPEC_SUFFIXES) and os.path.islink(Path(root) / name):
                        found.append(Path(root) / name)
            for exc in walk_errors:
                where = exc.filename or str(path)
                errors.append(
                    SpecError(f"cannot read the directory: {exc.strerror or exc}", Location(where))
                )
        else:
            found.append(Path(path))
    # One file named twice (`a.yaml ./a.yaml $PWD/a.yaml`, or a link to it) is read once: it is
    # not a second definition of its pipeline.
    unique: dict[str, Path] = {}
    for path in found:
        unique.setdefault(_identity(path), path)
    return sorted(unique.values(), key=str), errors


def _identity(path: Path) -> str:
    try:
        return os.path.realpath(path, strict=True)
    except (OSError, RuntimeError):  # missing, or a link loop: each spelling stays its own problem
        return os.path.abspath(path)


def unresolved_references(data: Any, pointer: str = "") -> set[str]:
    """JSON pointers of the string values that are exactly one `${var.X}`/`${env.X}` reference."""
    if isinstance(data, str):
        return {pointer} if is_reference(data) else set()
    found: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            found |= unresolved_references(value, f"{pointer}/{pointer_escape(key)}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found |= unresolved_references(value, f"{pointer}/{index}")
    return found


PROJECT_MARKERS = (".git", "loopform.yaml")  # in this order


def project_root(spec_path: Path) -> Path:
    """The directory a spec's code files must stay in: the repository holding the spec (the
    nearest directory up with `.git`), else the nearest with `loopform.yaml`, else the spec's own
    directory."""
    start = Path(os.path.abspath(spec_path)).parent
    for marker in PROJECT_MARKERS:
        for directory in (start, *start.parents):
            if os.path.lexists(directory / marker):
                return directory
    return start


class _Once:
    """What one `load()` works out once for all its files: each spec directory's project root
    (`project_root`) and its real path (the files of one directory share them, and each costs a
    walk up the tree), the code files and the module files their specs use (`ModuleFiles`)."""

    def __init__(self, on_project: Callable[[str | None], None] | None = None) -> None:
        self._known: dict[Path, tuple[Path, Path]] = {}
        self._code: dict[tuple[Path, str], _CodeFile] = {}
        self.modules = ModuleFiles()
        self.on_project = on_project
        # The test files met (their _identity), and whether this loads the pipeline a test file
        # names (see checked_test_file).
        self.tests: set[str] = set()
        self.naming = False
        # What each spec file loaded to, by (identity, spelling): see load_file.
        self.loaded: dict[tuple[str, str], list[Loaded]] = {}

    def code_file(self, spec_path: Path, source: str) -> _CodeFile:
        """A code file as `_code_file` reads it, once per load however many specs name it (copies
        of a spec, for-each entries and module uses share their snippets)."""
        key = (spec_path.parent, source)
        found = self._code.get(key)
        if found is None:
            found = self._code[key] = _code_file(spec_path, source, self)
        return found

    def of(self, spec_path: Path) -> tuple[Path, Path]:
        directory = spec_path.parent
        found = self._known.get(directory)
        if found is None:
            root = project_root(spec_path)
            found = self._known[directory] = (root, Path(os.path.realpath(root)))
        return found

    def naming_nodes(self) -> _Once:
        """These caches, for loading the pipeline a test file names for its node names only: no one
        hears its project (it is not being planned), and a test file met there is only noted."""
        named = copy.copy(self)
        named.on_project, named.naming = None, True
        return named


def _in_git_directory(source: str, real: Path, real_root: Path) -> bool:
    """Whether `source` names, or its links lead to (`real`, all links followed), a path with a
    `.git` component (any case: file systems that ignore case open `.GIT/config` as `.git/config`)."""
    inside = real.relative_to(real_root).parts if real.is_relative_to(real_root) else real.parts
    return any(part.casefold() == ".git" for part in (*Path(source).parts, *inside))


def _tracked(real: Path, root: Path) -> bool:
    """Whether git tracks the file at `real` (all links followed), when `root` is a git working
    tree (True when it is not, or git cannot tell: the warning is about files a repository leaves
    out)."""
    if not os.path.lexists(root / ".git"):
        return True
    tracked = _tracked_files(str(root), _index_stamp(root))
    return tracked is None or str(real) in tracked


def _index_stamp(root: Path) -> float:
    try:  # the index changes on add, commit, checkout and pull: the cache below follows it
        return os.stat(root / ".git" / "index").st_mtime
    except OSError:  # a worktree's `.git` is a file pointing elsewhere
        return os.stat(root / ".git").st_mtime


@functools.lru_cache(maxsize=8)
def _tracked_files(root: str, stamp: float) -> frozenset[str] | None:
    """Real paths of the files git tracks under `root` (None when git is missing or fails)."""
    try:
        listed = subprocess.run(["git", "-C", root, "ls-files", "-z"], capture_output=True, timeout=30,
                                check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return frozenset(os.path.realpath(os.path.join(root, os.fsdecode(name)))
                     for name in listed.split(b"\0") if name)


@dataclass(frozen=True)
class _CodeFile:
    """What reading one code file came to: its bytes and text, or the problems (message,
    severity), each reported where a node names the file."""

    raw: bytes | None
    text: str | None
    problems: tuple[tuple[str, str], ...] = ()


def _read_code(spec_path: Path, key: str, ref: CodeRef, doc: SourceDocument,
               once: _Once) -> tuple[str | None, bytes]:
    if ref.inline is not None:
        return ref.inline, ref.inline.encode()
    assert ref.source is not None
    found = once.code_file(spec_path, ref.source)
    if found.problems:
        where = doc.locate(f"/spec/nodes/{pointer_escape(key)}/source")
        doc.errors.extend(SpecError(message, where, severity=severity) for message, severity in found.problems)
    return found.text, found.raw or b""


def _code_file(spec_path: Path, source: str, once: _Once) -> _CodeFile:
    """The code file `source` (relative to the spec at `spec_path`), checked and read."""
    if "\0" in source:  # no file system takes it (os calls raise ValueError)
        return _CodeFile(None, None, ((f"code source file {source!r} is not a file name: it holds a NUL "
                                       "character", "error"),))
    target = (spec_path.parent / source)
    # The code is uploaded to the platform and shown in plan diffs (PR comments): a spec in a pull
    # request must not be able to read, say, the CI runner's credentials through `../../..`, nor
    # the repository's own `.git/config` (where actions/checkout leaves the CI token).
    root, real_root = once.of(spec_path)
    real = Path(os.path.realpath(target))
    if _in_git_directory(source, real, real_root):
        return _CodeFile(None, None, ((f"code source file '{source}' is inside a .git directory (git's own "
                                       "files, credentials included); keep code files in the repository's "
                                       "working tree", "error"),))
    if not real.is_relative_to(real_root):
        return _CodeFile(None, None, ((f"code source file '{source}' is outside the project ({root}); keep "
                                       "code files in the repository, next to the specs", "error"),))
    probe = SourceDocument(path=str(spec_path))
    raw = read_bytes(target, probe)
    if raw is None:
        reason = probe.errors[0].message if probe.errors else "cannot read it"
        return _CodeFile(None, None, ((f"code source file '{source}': {reason}", "error"),))
    problems: tuple[tuple[str, str], ...] = ()
    if not _tracked(real, root):
        problems = ((f"code source file '{source}' is not tracked by git: a fresh checkout (CI) does not "
                     "have it, and a local file may hold what must not be uploaded; `git add` it", "warning"),)
    try:
        return _CodeFile(raw, raw.decode("utf-8-sig"), problems)
    except UnicodeDecodeError:
        return _CodeFile(raw, None, (*problems, (f"code source file '{source}' is not UTF-8 text", "error")))


def _foreign_project(spec: PipelineSpec, context: Context, doc: SourceDocument) -> list[SpecError]:
    """A spec naming a project that is not its environment's: applied as it stands, it would
    change another environment (say prod from `--env staging`) without a word."""
    project = spec.metadata.project
    if not context.projects or project is None or project in context.projects:
        return []
    allowed = ", ".join(f"'{p}'" for p in sorted(context.projects))
    return [SpecError(f"project '{project}' is not a project of environment '{context.environment}' "
                      f"(its projects: {allowed}); name one of those, or list '{project}' under the "
                      f"environment's `projects:` in loopform.yaml", doc.locate("/metadata/project"))]


# The kind of `loopform test`'s files (reconciler.test_files), which live beside the specs.
TEST_KIND = "PipelineTest"


Loaded = tuple[SpecFile | None, Salvage | None, list[SpecError]]


def load_file(path: Path, *, context: Context | None = None, once: _Once | None = None) -> list[Loaded]:
    """One spec file (one entry per pipeline it defines, see reconciler.spec.for_each): parse,
    interpolate `${...}`, validate, read its code files. Graph checks are
    not run here.

    With schema errors, the SpecFile returned (if any) holds the salvaged rest of the spec, for
    checking only; `Salvage` says so, and such a SpecFile must never be planned. Without a
    `context`, references are only checked for syntax (see `reconciler.interpolate`).
    """
    once = once or _Once()
    # A spec a test file names is loaded for the test's check and again as a spec of the load (or
    # the other way round): the second time is the first's result, its projects heard again.
    key = (_identity(path), str(path))
    done = once.loaded.get(key)
    if done is not None:
        if once.on_project is not None:
            for spec_file, _, _ in done:
                if spec_file is not None:
                    once.on_project(spec_file.spec.metadata.project or None)
        return done
    doc, raw = read_source(path, shown=_shown(path))
    if isinstance(doc.data, dict) and doc.data.get("kind") == TEST_KIND and not doc.fatal and raw is not None:
        # `loopform test`'s file: checked, no spec (and not kept: checking depends on who asks)
        return [(None, None, checked_test_file(path, doc, context=context, once=once)[1])]
    loaded = once.loaded[key] = _loaded(path, doc, raw, context, once)
    return loaded


def _loaded(path: Path, doc: SourceDocument, raw: bytes | None, context: Context | None,
            once: _Once) -> list[Loaded]:
    errors = list(doc.errors)
    if doc.fatal or raw is None:
        return [(None, None, errors)]
    if is_module_document(doc.data):  # its values are checked where it is used, with that use's inputs
        return [(None, None, errors + module_file_errors(doc))]
    # One budget for every copy the file's forEach entries and module uses make (MAX_EXPANDED_VALUES).
    budget = ValueBudget(MAX_EXPANDED_VALUES)
    entries, problems = for_each.expand(doc, budget)
    if entries is None:
        return [_load_document(path, doc, raw, errors, context, once, budget=budget)]
    loaded = [_load_document(path, entry.doc, raw, [], context, once, entry.digest, budget=budget)
              for entry in entries]
    # A saved plan records one digest per spec file (planfile): every entry carries the file's,
    # made of all the entries' own, so that a change to any of them is a change to the file.
    whole = hashlib.sha256("\0".join(sorted(sf.digest for sf, _, _ in loaded if sf is not None)).encode())
    loaded = [(dataclasses.replace(sf, digest=whole.hexdigest()) if sf is not None else None, salvaged, found)
              for sf, salvaged, found in loaded]
    return [(None, None, errors + problems)] + loaded


def checked_test_file(path: Path, doc: SourceDocument, *, context: Context | None = None,
                      once: _Once | None = None) -> tuple[PipelineTestFile | None, list[SpecError]]:
    """A pipeline test file read into `doc` (reconciler.test_files) and every problem of it, located;
    the nodes it names are looked up in the pipeline spec it names, loaded as this load loads specs."""
    from reconciler import test_files  # its models are built only when a load meets a test file

    once = once or _Once()
    once.tests.add(_identity(path))
    if once.naming:  # met as the pipeline a test file names: no spec, and checked on its own
        return None, []

    def pipelines(spec_path: Path) -> list[PipelineSpec] | str:
        # In a repository (or a loopform.yaml project), read only inside it, as code files are: a
        # test file in a pull request must not have CI read the runner's files (node names show in
        # did-you-mean hints), nor git's own.
        root, real_root = once.of(path)
        if any(os.path.lexists(root / marker) for marker in PROJECT_MARKERS):
            real = Path(os.path.realpath(spec_path))
            if _in_git_directory(os.path.relpath(spec_path, path.parent), real, real_root):
                return "is inside a .git directory, not a pipeline spec of the repository"
            if not real.is_relative_to(real_root):
                return f"is outside the project ({root}); keep test files and their specs in the repository"
        # A test file there is not checked from here: one naming itself, or two naming each other,
        # would never end.
        key = _identity(spec_path)
        if key in once.tests:
            return "is a test file, not a pipeline spec"
        loaded = load_file(Path(os.path.normpath(spec_path)), context=context, once=once.naming_nodes())
        if key in once.tests:
            return "is a test file, not a pipeline spec"
        return [spec.spec for spec, salvaged, _ in loaded if spec is not None and salvaged is None]

    return test_files.check(path, doc, pipelines)


def _load_document(path: Path, doc: SourceDocument, raw: bytes, errors: list[SpecError],
                   context: Context | None, once: _Once, each: str = "", *, budget: ValueBudget) -> Loaded:
    # Interpolate before validation so the models see the values the spec will be applied with.
    # A file without `${` (nor a backslash escape that could spell one) has nothing to replace.
    may_refer = b"${" in raw or b"\\" in raw
    interpolated = interpolate(doc.data, context, doc.locate) if may_refer else Interpolated(doc.data, [])
    doc.data = interpolated.data
    errors.extend(interpolated.errors)
    if once.on_project is not None:
        metadata = doc.data.get("metadata") if isinstance(doc.data, dict) else None
        project = metadata.get("project") if isinstance(metadata, dict) else None
        once.on_project(project if isinstance(project, str) and project else None)
    expansion = None
    if uses_modules(doc.data):
        expansion = expand(doc, path, once.of(path)[0], context, _shown, once.modules, budget)
        errors.extend(expansion.errors)
    spec, problems = _validate(doc)
    # Offline, a value that is one whole reference (`batchSize: ${var.batch}`) has no known type
    # yet: its schema errors wait for an environment (`validate --env`, plan, apply). A reference
    # that failed is reported once, not again as a wrong value. Either way the field is set aside
    # like a broken one, so the rest of the file is still checked.
    unknown = {e.location.pointer for e in interpolated.errors}
    if context is None and may_refer:
        unknown |= unresolved_references(doc.data)
    errors.extend(p for p in problems if p.location.pointer not in unknown)
    if expansion is not None and expansion.errors:
        # A module use that failed leaves a graph with a hole: checking it would only report the hole.
        return None, None, [e for e in errors if e.location.pointer != "/spec/nodes"]
    if spec is not None and context is not None:
        errors.extend(_foreign_project(spec, context, doc))
    salvaged: Salvage | None = None
    if spec is None:
        salvaged = salvage(doc.data, [e.location.pointer for e in problems])
        if salvaged is None:
            return None, None, errors
        spec = salvaged.spec
    digest = hashlib.sha256(raw)
    modules = expansion.modules if expansion is not None else {}
    for name in sorted(modules):  # a changed module changes every spec built from it
        digest.update(f"\0module\0{name}\0{modules[name]}".encode())
    if each:  # each for-each entry is its own spec
        digest.update(f"\0each\0{each}".encode())
    if interpolated.digest:  # the same file with other variable values is another spec
        digest.update(f"\0${{}}\0{interpolated.digest}".encode())
    code: dict[str, str] = {}
    doc.errors.clear()
    for key in sorted(spec.spec.nodes):
        node = spec.spec.nodes[key]
        ref = node_type(node).code(node)
        if ref is not None:
            text, data = _read_code(path, key, ref, doc, once)
            if text is not None:
                code[key] = text
            digest.update(f"\0{key}\0".encode() + data)
    errors.extend(doc.errors)
    spec_file = SpecFile(path=path, spec=spec, digest=digest.hexdigest(), code=code, source=doc,
                         modules={k: v for k, v in modules.items() if "\0" not in k},
                         through=expansion.through if expansion is not None else {})
    return spec_file, salvaged, errors


def load(paths: Sequence[Path], *, context: Context | None = None,
         on_project: Callable[[str | None], None] | None = None) -> LoadResult:
    """Load every spec under `paths`, run all checks, and collect every problem (never raises).

    `context` supplies `${var.NAME}`/`${env.NAME}` values. Without one (offline) references are
    checked for syntax only, and a value that is one whole reference is not type-checked (its file
    is then salvaged, so it is not in `specs`).

    `specs` holds only files without schema errors; a file with schema errors is still checked
    as far as possible (see `reconciler.spec.salvage`), so that one run reports everything.

    `on_project` hears, as each spec is read, the project it names (None: it names none), so that
    a caller can start fetching that project's live state while the rest load.
    """
    with collector.paused():  # every spec stays loaded to the end (see reconciler.collector)
        return _load_all([Path(p) for p in paths], context, on_project)


def _load_all(paths: list[Path], context: Context | None,
              on_project: Callable[[str | None], None] | None) -> LoadResult:
    files, errors = discover(paths)
    result = LoadResult(errors=errors, files=len(files))
    named: list[SpecFile] = []  # files whose pipeline identity is known, salvaged ones too
    once = _Once(on_project)
    for path in files:
        for spec_file, salvaged, problems in load_file(path, context=context, once=once):
            result.errors.extend(problems)
            if spec_file is None:
                continue
            if salvaged is None:
                resolved = resolve_edges(spec_file.spec)
                if not any(f.severity == "error" for f in resolved[1]):
                    spec_file = dataclasses.replace(spec_file, edges=tuple(resolved[0]))
                result.specs.append(spec_file)
                result.errors.extend(file_errors(spec_file, resolved=resolved))
            else:
                result.errors.extend(file_errors(spec_file, salvaged))
            if salvaged is None or not salvaged.broken_metadata:
                named.append(spec_file)
    result.errors.extend(duplicate_pipelines(named))
    result.errors = for_each.unique(result.errors)
    result.errors.sort(
        key=lambda e: (e.location.path, e.location.line, e.location.col, e.severity, e.message)
    )
    return result


def file_errors(spec_file: SpecFile, salvaged: Salvage | None = None, *,
                resolved: tuple[list[Edge], list[Finding]] | None = None) -> list[SpecError]:
    """The checks of one file; for a salvaged spec, only findings that cannot be artefacts.
    `resolved`: the spec's `resolve_edges`, when the caller has it."""
    errors: list[SpecError] = []
    for finding in spec_findings(spec_file.spec, resolved):
        kept = salvaged.keep(finding) if salvaged is not None else finding
        if kept is not None:
            connection = "/".join(kept.pointer.split("/")[:4])  # /spec/connections/N
            through = spec_file.through.get(connection)
            message = f"{kept.message} ({through})" if through else kept.message
            errors.append(SpecError(message, spec_file.locate(kept.pointer), severity=kept.severity))
    return errors


def duplicate_pipelines(spec_files: list[SpecFile]) -> list[SpecError]:
    """An error for each file that defines a pipeline (project, name) an earlier file defines."""
    errors: list[SpecError] = []
    owners: dict[tuple[str | None, str], SpecFile] = {}
    for spec_file in spec_files:
        meta = spec_file.spec.metadata
        identity = (meta.project, meta.name)
        first = owners.get(identity)
        if first is not None:
            project = f"project '{meta.project}'" if meta.project else "the default project"
            errors.append(
                SpecError(
                    f"pipeline '{meta.name}' in {project} is already defined in {first.locate('').path}",
                    spec_file.locate("/metadata/name"),
                )
            )
        else:
            owners[identity] = spec_file
    return errors


def check(spec_files: list[SpecFile]) -> list[SpecError]:
    """The graph and cross-reference checks of every file, and cross-file duplicates."""
    errors: list[SpecError] = []
    for spec_file in spec_files:
        errors.extend(file_errors(spec_file))
    return errors + duplicate_pipelines(spec_files)
