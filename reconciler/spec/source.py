"""Reading one YAML spec file safely into JSON-like data plus a JSON-pointer -> line/column map.

Hostile or broken input must give a located error quickly and in bounded memory, never a crash.
So nothing here lets PyYAML build Python objects: the file's *events* (libyaml's C parser when
available; it is iterative, unlike the composers, which recurse and crash on deep nesting) are
turned into data by an explicit stack, enforcing on the way:
- a byte-size limit checked before reading the file (MAX_BYTES), no NUL bytes, UTF-8 only;
- one document per file;
- a nesting-depth limit (MAX_DEPTH) and a limit on the values of the document as aliases expand
  it (MAX_VALUES), which stops "billion laughs" before anything walks the shared structure and
  bounds the work per file (a spec of the largest real pipelines holds under a thousand values);
- a limit on the length of a value's path (MAX_PATH: keys nested within each other), since a JSON
  pointer is kept for every value: without it, a 1 MB file with a very long key above many
  values would need gigabytes of pointers;
- mapping keys must be strings and unique (PyYAML silently keeps the last duplicate);
- scalars are typed like `yaml.safe_load` does (YAML 1.1 resolution: `on`/`yes`/`no` are booleans),
  except timestamps, which stay strings (specs are JSON-shaped; a date object would make the models
  disagree with the JSON Schema). Where a string was meant, the validation message carries a hint
  to quote the value, using the scalar's original text recorded here (`SourceDocument.plain`).
Explicit tags other than the standard JSON-compatible ones are rejected.

That reader costs a Python call per event. Most spec files need none of its checks, so they are
read first by libyaml's parser and composer with PyYAML's constructors (`_parse_fast`, about the
cost of `yaml.load(text, Loader=CSafeLoader)`): only when their nesting is provably shallow enough
for the composer (it recurses), the constructors meet nothing but string keys, each once, and the
JSON-shaped tags, and the data is inside the limits. Anything else, and the marks of any file, come
from the event reader, so messages and locations do not depend on which way a file was read.
"""

from __future__ import annotations

import bisect
import errno
import functools
import math
import re
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from reconciler.errors import Location, SpecError
from reconciler.spec.values import describe, pointer_escape

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 50_000  # scalars and containers, counted as aliases expand the document
MAX_PATH = 1_024  # characters of a value's JSON pointer
MAX_ALIASES = 1_000
# Values the copies that a file's forEach entries and module uses make may hold together (see
# interpolate.ValueBudget): a 3 kB spec using a module 100 times that uses one 100 times expanded to
# 300,000 nodes (10 s, 1.4 GB to say "valid"). Loading takes about 7 us a value: about 2 s here.
MAX_EXPANDED_VALUES = 5 * MAX_VALUES

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}


@dataclass(frozen=True)
class Mark:
    """1-based line and column of a key (mapping entries) or an item (sequence entries)."""

    line: int
    col: int


@dataclass
class SourceDocument:
    """A parsed spec file: its data, where each JSON pointer starts, and any structural problems.

    A file read by the fast path (see `parse_text`) has its marks and plain texts worked out on
    first use, by reading the text again event by event: only files with something to report pay
    for them.
    """

    path: str
    data: Any = None
    errors: list[SpecError] = field(default_factory=list)
    fatal: bool = False  # no usable data (unreadable, unparseable, over a limit)
    _marks: dict[str, Mark] = field(default_factory=dict, repr=False)
    # Original text of plain scalars that did not become strings (for "quote it" hints).
    _plain: dict[str, str] = field(default_factory=dict, repr=False)
    _unread: str | None = field(default=None, repr=False)  # text whose marks are still to be read
    # Parts of `data` that module expansion brought in from other files: pointer -> its origin
    # (a `reconciler.spec.modules.Graft`), so that their problems are located where they were written.
    grafts: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def marks_read(self) -> bool:
        """Whether the line marks were read: a file without problems never needs them (the fast
        path leaves them to the event reader, which costs as much as the parse again)."""
        return self._unread is None

    @property
    def marks(self) -> dict[str, Mark]:
        self._read_marks()
        return self._marks

    @property
    def plain(self) -> dict[str, str]:
        self._read_marks()
        return self._plain

    def _read_marks(self) -> None:
        if self._unread is not None:
            located = _parse_events(self._unread, self.path)
            self._marks, self._plain, self._unread = located._marks, located._plain, None

    def locate(self, pointer: str) -> Location:
        """The location of `pointer`, or of its nearest ancestor that has one."""
        if self.grafts:
            probe = pointer
            while probe:
                graft = self.grafts.get(probe)
                if graft is not None:
                    found = graft.doc.locate(graft.pointer + pointer[len(probe):])
                    return Location(found.path, found.line, found.col, pointer, via=str(graft.via))
                probe = probe.rsplit("/", 1)[0]
        marks = self.marks
        probe = pointer
        while True:
            mark = marks.get(probe)
            if mark is not None:
                return Location(self.path, mark.line, mark.col, pointer)
            if not probe:
                return Location(self.path, 1, 1, pointer)
            probe = probe.rsplit("/", 1)[0]

    def error(self, message: str, line: int = 1, col: int = 1, pointer: str = "") -> None:
        self.errors.append(SpecError(message, Location(self.path, line, col, pointer)))


class _Stop(Exception):
    """A problem after which the rest of the file cannot be read sensibly."""

    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


class _EditorPositions:
    """Line and column of a character index as editors count them.

    libyaml also breaks lines at NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR (YAML 1.1), which
    editors show inside a line; in a file that holds one, libyaml's line numbers run ahead of what
    the user sees. Only built for such files: elsewhere libyaml's own lines are right.
    """

    BREAKS = ("\x85", "\u2028", "\u2029")

    def __init__(self, text: str) -> None:
        self.starts = [0, *(m.end() for m in re.finditer(r"\r\n|\r|\n", text))]

    def at(self, index: int) -> tuple[int, int]:
        row = bisect.bisect_right(self.starts, index) - 1
        return row + 1, index - self.starts[row] + 1

    @classmethod
    def needed(cls, text: str) -> _EditorPositions | None:
        return cls(text) if any(b in text for b in cls.BREAKS) else None


@dataclass
class _Frame:
    container: dict[str, Any] | list[Any]
    pointer: str
    mark: Mark
    anchor: str | None
    size: int = 1
    key: str | None = None
    key_mark: Mark | None = None
    has_key: bool = False  # a key was read and its value is pending
    skip_value: bool = False  # the pending key was bad: drop its value
    merge_pending: bool = False
    merges: list[tuple[dict[str, Any], Mark]] = field(default_factory=list)
    seen: dict[str, Mark] = field(default_factory=dict)


class _Builder:
    """Turns a YAML event stream into data, marks and errors, within the limits above."""

    def __init__(self, doc: SourceDocument, positions: _EditorPositions | None = None) -> None:
        self.doc = doc
        self.positions = positions
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.total = 0
        self.aliases = 0
        self.documents = 0
        self.root_set = False
        self.resolver = Resolver()
        self.constructor = SafeConstructor()

    def _child_pointer(self) -> str:
        """The JSON pointer of the node that comes next, from the top frame's state."""
        if not self.stack:
            return ""
        top = self.stack[-1]
        if isinstance(top.container, list):
            return f"{top.pointer}/{len(top.container)}"
        if top.has_key and top.key is not None:
            return f"{top.pointer}/{pointer_escape(top.key)}"
        return f"{top.pointer}/?"  # a complex key being built; it will be rejected

    # -- events ------------------------------------------------------------------------------
    def feed(self, event: yaml.Event) -> None:
        start = event.start_mark
        if start is None:
            mark = Mark(1, 1)
        elif self.positions is not None:
            mark = Mark(*self.positions.at(start.index))
        else:
            mark = Mark(start.line + 1, start.column + 1)
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise _Stop(
                    "a spec file holds one document; found a second one (---): "
                    "put each pipeline in its own file",
                    mark.line,
                    mark.col,
                )
        elif isinstance(event, yaml.ScalarEvent):
            value, plain = self._scalar(event, mark)
            self._add(value, mark, 1, event.anchor, plain)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if event.tag is not None and event.tag not in _ALLOWED_TAGS and event.tag != "!":
                raise _Stop(f"unsupported YAML tag '{event.tag}'", mark.line, mark.col)
            if len(self.stack) >= MAX_DEPTH:
                raise _Stop(f"nesting deeper than {MAX_DEPTH} levels", mark.line, mark.col)
            pointer = self._child_pointer()
            container: dict[str, Any] | list[Any] = (
                {} if isinstance(event, yaml.MappingStartEvent) else []
            )
            if event.anchor:
                self.open_anchors.add(event.anchor)
            self.stack.append(_Frame(container, pointer, mark, event.anchor))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = self.stack.pop()
            if isinstance(frame.container, dict):
                for merged, merge_mark in frame.merges:
                    for key, value in merged.items():
                        if key not in frame.container:
                            frame.container[key] = value
                            self.doc._marks.setdefault(
                                f"{frame.pointer}/{pointer_escape(key)}", merge_mark
                            )
            if frame.anchor:
                self.open_anchors.discard(frame.anchor)
            self._add(frame.container, frame.mark, frame.size, frame.anchor, None)
        elif isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Stop(f"more than {MAX_ALIASES} aliases", mark.line, mark.col)
            name = event.anchor
            if name in self.open_anchors:
                raise _Stop(f"alias '*{name}' refers to its own enclosing node", mark.line, mark.col)
            if name not in self.anchors:
                raise _Stop(f"unknown alias '*{name}' (no anchor '&{name}' before it)", mark.line, mark.col)
            value, size = self.anchors[name]
            self._add(value, mark, size, None, None, repeated=True)

    def _scalar(self, event: yaml.ScalarEvent, mark: Mark) -> tuple[Any, str | None]:
        tag = event.tag
        if tag is None or tag == "!":
            tag = (
                self.resolver.resolve(ScalarNode, event.value, event.implicit)
                if tag is None
                else f"{_TAG}str"
            )
        elif tag not in _ALLOWED_TAGS:
            raise _Stop(f"unsupported YAML tag '{tag}'", mark.line, mark.col)
        node = ScalarNode(tag, event.value, style=event.style)
        name = tag[len(_TAG):] if tag.startswith(_TAG) else "str"
        try:
            if name == "null":
                value: Any = None
            elif name == "bool":
                value = self.constructor.construct_yaml_bool(node)
            elif name == "int":
                value = self.constructor.construct_yaml_int(node)
            elif name == "float":
                value = self.constructor.construct_yaml_float(node)
            elif name == "merge":
                return _MERGE, None
            else:  # str, timestamp (kept as text on purpose), value, anything else resolved
                value = event.value
        except (ValueError, yaml.YAMLError) as exc:
            raise _Stop(f"cannot read '{event.value}' as {name}: {exc}", mark.line, mark.col) from exc
        if isinstance(value, float) and not math.isfinite(value):
            raise _Stop(
                f"'{event.value}' is not a finite number (JSON cannot hold it); quote it if it is text",
                mark.line,
                mark.col,
            )
        plain = event.value if not isinstance(value, str) and not event.style else None
        return value, plain

    def _add(
        self,
        value: Any,
        mark: Mark,
        size: int,
        anchor: str | None,
        plain: str | None,
        repeated: bool = False,
    ) -> None:
        # An alias repeats its whole subtree; anything else is one value (a container's contents
        # were counted as they were read).
        self.total += size if repeated else 1
        if self.total > MAX_VALUES:
            what = (
                f"aliases expand the document to more than {MAX_VALUES} values"
                if self.aliases
                else f"the document holds more than {MAX_VALUES} values"
            )
            raise _Stop(f"{what}, far more than a pipeline spec holds", mark.line, mark.col)
        if anchor:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.doc.data = value
            self.root_set = True
            return
        top = self.stack[-1]
        top.size += size
        if isinstance(top.container, list):
            pointer = f"{top.pointer}/{len(top.container)}"
            self.doc._marks[pointer] = mark
            if plain is not None:
                self.doc._plain[pointer] = plain
            top.container.append(value)
            return
        if not top.has_key:
            self._take_key(top, value, mark, plain)
            return
        top.has_key = False
        if top.merge_pending:
            top.merge_pending = False
            self._take_merge(top, value, top.key_mark or mark)
            return
        if top.skip_value or top.key is None:
            top.skip_value = False
            return
        pointer = f"{top.pointer}/{pointer_escape(top.key)}"
        if plain is not None:
            self.doc._plain[pointer] = plain
        top.container[top.key] = value

    def _take_key(self, top: _Frame, key: Any, mark: Mark, plain: str | None) -> None:
        top.has_key = True
        top.key_mark = mark
        top.key = None
        if key is _MERGE:
            top.merge_pending = True
            return
        if not isinstance(key, str):
            hint = f": quote it, \"{plain}\"" if plain else ""
            if plain and isinstance(key, bool):
                hint = f" (YAML 1.1 reads '{plain}' as a boolean): quote it, \"{plain}\""
            self.doc.error(
                f"mapping keys must be strings, got {describe(key)}{hint}",
                mark.line,
                mark.col,
                f"{top.pointer}/{plain if plain is not None else '?'}",
            )
            top.skip_value = True
            return
        first = top.seen.get(key)
        if first is not None:
            self.doc.error(
                f"duplicate key '{key}' (first defined at line {first.line}, column {first.col}); "
                "YAML keeps only one of them",
                mark.line,
                mark.col,
                f"{top.pointer}/{pointer_escape(key)}",
            )
            top.skip_value = True
            return
        pointer = f"{top.pointer}/{pointer_escape(key)}"
        if len(pointer) > MAX_PATH:
            raise _Stop(
                f"key path longer than {MAX_PATH} characters (a key that long, or long keys nested "
                "within each other)",
                mark.line,
                mark.col,
            )
        top.seen[key] = mark
        top.key = key
        self.doc._marks[pointer] = mark

    def _take_merge(self, top: _Frame, value: Any, mark: Mark) -> None:
        sources = value if isinstance(value, list) else [value]
        for source in sources:
            if not isinstance(source, dict):
                self.doc.error(
                    f"a merge key (<<) takes a mapping or a list of mappings, got {describe(source)}",
                    mark.line,
                    mark.col,
                    top.pointer,
                )
                return
            top.merges.append((source, mark))


class _MergeKey:
    """Sentinel for the YAML 1.1 merge key `<<`."""


_MERGE = _MergeKey()


@dataclass(frozen=True)
class Expected:
    """What a file is meant to hold, for the messages about a file that holds something else."""

    noun: str  # "a spec"
    kind: str  # "a Pipeline spec"
    fields: str  # its top-level fields

    @property
    def described(self) -> str:
        return f"{self.kind} ({self.fields})"


PIPELINE_SPEC = Expected("a spec", "a Pipeline spec", "apiVersion, kind, metadata, spec")


def parse_text(text: str, path: str, *, expected: Expected = PIPELINE_SPEC) -> SourceDocument:
    """Parse spec text (already decoded) into a SourceDocument; never raises for bad input.

    Most spec files are plain: no anchors, tags, merge keys, duplicate or non-string keys, and well
    inside the limits. Those are read at libyaml's speed (`_parse_fast`), their marks only when
    asked for. Any other file, and every file with something to report, is read event by event
    (`_parse_events`), which enforces the limits as it goes and locates each problem; so a file's
    data, errors and locations are the same whichever way it was read. `expected` names what an
    empty file should have held.
    """
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        doc = SourceDocument(path=path)
        doc.error(f"empty file: expected {expected.described}")
        doc.fatal = True
        return doc
    return _parse_fast(text, path) or _parse_events(text, path, expected)


def _parse_events(text: str, path: str, expected: Expected = PIPELINE_SPEC) -> SourceDocument:
    """The event-by-event reader: every check, every mark, for any input."""
    doc = SourceDocument(path=path)
    positions = _EditorPositions.needed(text)
    builder = _Builder(doc, positions)
    try:
        try:
            for event in yaml.parse(text, Loader=_Loader):
                builder.feed(event)
        except yaml.MarkedYAMLError as exc:
            if not _may_be_parser_nesting_limit(text, exc):
                raise
            # libyaml's own nesting limit (1000 levels since PyYAML 6.0.4, none before; its
            # message and column changed with it) fires while the C scanner looks ahead through
            # a flow collection, before our depth check sees the 65th level. Our limit must not
            # depend on the parser's version, so such a file is read again by PyYAML's pure
            # Python parser, which has no limit of its own and streams events: our check stops
            # it at the same place, with the same words, under every PyYAML.
            doc = SourceDocument(path=path)
            builder = _Builder(doc, positions)
            for event in yaml.parse(text, Loader=yaml.SafeLoader):
                builder.feed(event)
    except _Stop as stop:
        doc.error(stop.message, stop.line, stop.col)
        doc.fatal = True
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is None:
            line, col = 1, 1
        elif positions is not None:
            line, col = positions.at(mark.index)
        else:
            line, col = mark.line + 1, mark.column + 1
        problem = exc.problem or "malformed YAML"
        context = f" {exc.context}" if exc.context else ""
        if _char_at(text, line, col) == "\t":  # libyaml's words for it rarely say "tab"
            context += "; this is a tab: YAML indents with spaces only"
        doc.error(f"invalid YAML: {problem}{context}", line, col)
        doc.fatal = True
        return doc
    except yaml.reader.ReaderError as exc:
        line, col = _position(text, exc.position)
        doc.error(
            f"invalid YAML: character U+{exc.character:04X} is not allowed ({exc.reason})", line, col
        )
        doc.fatal = True
        return doc
    except yaml.YAMLError as exc:
        doc.error(f"invalid YAML: {exc}")
        doc.fatal = True
        return doc
    if not builder.root_set or doc.data is None:
        doc.error(f"empty document: expected {expected.described}")
        doc.fatal = True
    elif not isinstance(doc.data, dict):
        doc.error(
            f"{expected.noun} must be a mapping ({expected.fields}), got {describe(doc.data)}"
        )
        doc.fatal = True
    return doc


class _Unusual(Exception):
    """Something the fast path leaves to the event-by-event reader."""


def _unusual(loader: Any, node: Any) -> Any:
    raise _Unusual


def _text(loader: Any, node: Any) -> str:
    return str(node.value)  # timestamps stay text, as in `_Builder._scalar`


def _finite_float(loader: Any, node: Any) -> float:
    value = SafeConstructor.construct_yaml_float(loader, node)
    if not math.isfinite(value):
        raise _Unusual
    return value


def _mapping(loader: Any, node: Any) -> Any:
    data: dict[str, Any] = {}
    yield data
    for key_node, value_node in node.value:
        # Only plain string keys, once each: merge keys (`<<`), other types and duplicates are
        # reported, with hints, by the event reader.
        if key_node.tag != f"{_TAG}str" or not isinstance(key_node, ScalarNode) or key_node.value in data:
            raise _Unusual
        data[key_node.value] = loader.construct_object(value_node, deep=False)


def _fast_loader() -> Any:
    """libyaml's parser and composer with constructors for the JSON-shaped tags only (None without
    libyaml: the pure-Python composer recurses too, so every file is then read event by event)."""
    if not hasattr(yaml, "CSafeLoader"):
        return None

    class FastLoader(yaml.CSafeLoader):  # type: ignore[misc,name-defined]
        pass

    FastLoader.yaml_constructors = {
        f"{_TAG}null": SafeConstructor.construct_yaml_null,
        f"{_TAG}bool": SafeConstructor.construct_yaml_bool,
        f"{_TAG}int": SafeConstructor.construct_yaml_int,
        f"{_TAG}float": _finite_float,
        f"{_TAG}str": SafeConstructor.construct_yaml_str,
        f"{_TAG}timestamp": _text,
        f"{_TAG}seq": SafeConstructor.construct_yaml_seq,
        f"{_TAG}map": _mapping,
        None: _unusual,  # explicit tags, `!`, binary, sets...
    }
    return FastLoader


_FastLoader = _fast_loader()

_INDENT = re.compile(r"^( *)((?:- +)*)", re.MULTILINE)
_FLOW = re.compile(r"""[\[\]{}"'#]""")
_OPENING = re.compile(r"[\[{]")
_QUOTED = {'"': re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL), "'": re.compile(r"'(?:[^']|'')*'")}


# Nesting libyaml's composer is given at most: it recurses in C, and crashes the interpreter on
# deep enough input (a 50,000-level flow nest). The exact MAX_DEPTH check follows the composer.
_COMPOSER_DEPTH = 512


def _depth_bound(text: str) -> int:
    """At least the nesting depth of `text` (or _COMPOSER_DEPTH + 1 when unsure), read without
    parsing, so that deep input never reaches the recursive composer.

    Block collections nest by indentation, or by `- ` entries on one line: at most two levels per
    column. Flow collections are counted by their brackets; in a flow collection a bracket is
    structure unless it is in a quoted scalar or a comment, which are skipped (outside one, an
    extra bracket can only make the count larger than the depth).
    """
    depth = deepest = 0
    at = 0
    # Outside flow collections only an opening bracket counts: most specs are all block style.
    while (found := (_FLOW if depth else _OPENING).search(text, at)) is not None:
        char, at = found.group(), found.end()
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
        elif depth and char == "#":
            if found.start() and not text[found.start() - 1].isspace():
                continue  # part of a plain scalar (`a#b`)
            at = text.find("\n", at) + 1 or len(text)
        elif depth:  # a quote in a flow collection
            before = found.start() - 1  # the character before it, spaces skipped (not sliced: 1 MB of quotes)
            while before >= 0 and text[before].isspace():
                before -= 1
            if before >= 0 and text[before] not in "[{,:":
                continue  # inside a plain scalar (`it's`)
            closed = _QUOTED[char].match(text, found.start())
            if closed is None:
                return _COMPOSER_DEPTH + 1
            at = closed.end()
    # Block nesting that still fits beside the flow nesting; a line reaching deeper has a prefix of
    # spaces and `- ` longer than that (each level costs a character). Only then are lines counted.
    room = max(0, (_COMPOSER_DEPTH - 2 - deepest) // 2)
    if _deep_prefix(room).search(text) is None:
        return 2 * room + 2 + deepest
    block = max((len(indent) + dashes.count("-") for indent, dashes in _INDENT.findall(text)), default=0)
    return 2 * block + 2 + deepest


@functools.lru_cache(maxsize=16)
def _deep_prefix(length: int) -> re.Pattern[str]:
    """A line starting with more than `length` spaces and dashes."""
    return re.compile(f"^[ -]{{{length + 1}}}", re.MULTILINE)


def _within_limits(data: dict[str, Any]) -> bool:
    """Whether the data stays inside MAX_DEPTH, MAX_PATH and MAX_VALUES (counted as `_Builder`
    counts them: keys, values and containers) and shares no container (an alias)."""
    values = 1
    seen: set[int] = set()
    stack: list[tuple[Any, int, int]] = [(data, 0, 1)]
    while stack:
        container, length, depth = stack.pop()
        if depth > MAX_DEPTH or id(container) in seen:
            return False
        seen.add(id(container))
        if isinstance(container, dict):
            values += 2 * len(container)
            for key, child in container.items():
                below = length + 1 + (len(pointer_escape(key)) if "~" in key or "/" in key else len(key))
                if below > MAX_PATH:
                    return False
                if isinstance(child, (dict, list)):
                    stack.append((child, below, depth + 1))
        else:
            values += len(container)
            for index, child in enumerate(container):
                if isinstance(child, (dict, list)):
                    stack.append((child, length + 1 + len(str(index)), depth + 1))
    return values <= MAX_VALUES


def _parse_fast(text: str, path: str) -> SourceDocument | None:
    """The document read by libyaml with PyYAML's constructors, when nothing in it needs the event
    reader's checks or messages; None otherwise."""
    # Tags, merge keys, complex and duplicate keys stop the constructors above; an alias of a
    # collection is a shared container (`_within_limits`); an alias of a scalar reads the same
    # either way, unless there are too many of them.
    if _FastLoader is None or text.count("*") > MAX_ALIASES or _depth_bound(text) > _COMPOSER_DEPTH:
        return None
    if text.count(",") > MAX_VALUES or text.count("\n") > MAX_VALUES:
        # Likely over MAX_VALUES: libyaml would build all of it before `_within_limits` could
        # say so (1 MB of `1,` took 1.3 s and 200 MB); the event reader stops at the limit.
        return None
    try:
        data = yaml.load(text, Loader=_FastLoader)  # noqa: S506 - only the constructors above
    except (_Unusual, yaml.YAMLError):
        return None
    if not isinstance(data, dict) or not data or not _within_limits(data):
        return None
    return SourceDocument(path=path, data=data, _unread=text)


def _may_be_parser_nesting_limit(text: str, exc: yaml.MarkedYAMLError) -> bool:
    """Whether a parser error could be a parser's own nesting limit rather than bad syntax.

    Decided without reading the message (a dependency's wording changes between versions): such
    a limit fires at a flow collection's opening bracket with more than MAX_DEPTH openings
    before it. Block nesting never gets there first, since libyaml streams block events and our
    depth check stops at MAX_DEPTH.
    """
    mark = exc.problem_mark
    if mark is None or not 0 <= mark.index < len(text) or text[mark.index] not in "[{":
        return False
    before = text[: mark.index]
    return before.count("[") + before.count("{") >= MAX_DEPTH


def _char_at(text: str, line: int, col: int) -> str | None:
    """The character at a 1-based line and column, if there is one."""
    lines = text.split("\n", line)
    if line > len(lines):
        return None
    row = lines[line - 1]
    return row[col - 1] if 0 < col <= len(row) else None


def _decode(raw: bytes, doc: SourceDocument) -> str | None:
    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        doc.error("binary file (contains NUL bytes), not a YAML spec", line, 1)
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        doc.error(f"not UTF-8 text: invalid byte 0x{raw[exc.start]:02x}", line, col)
        return None


def read_bytes(path: Path, doc: SourceDocument, *, limit: int = MAX_BYTES) -> bytes | None:
    """The file's bytes, or None with a located error (missing, directory, unreadable, too big).

    The size is checked before reading, and the read itself is bounded too, in case the file
    grows in between. Only regular files are opened: a FIFO named `x.yaml` would block forever.
    The open does not block either, and the opened file is checked again, in case the path was
    replaced by a FIFO or device after the first check.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        doc.error("broken symbolic link: its target does not exist" if os.path.islink(path)
                  else "no such file or directory")
        return None
    except OSError as exc:
        doc.error(_os_problem(exc))
        return None
    if stat.S_ISDIR(info.st_mode):
        doc.error("is a directory, not a spec file")
        return None
    if not stat.S_ISREG(info.st_mode):
        doc.error("not a regular file")
        return None
    if info.st_size > limit:
        doc.error(f"file is too large ({info.st_size} bytes; the limit is {limit})")
        return None
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        doc.error(_os_problem(exc))
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                doc.error("not a regular file")
                return None
            raw = fh.read(limit + 1)
    except OSError as exc:
        doc.error(_os_problem(exc))
        return None
    if len(raw) > limit:
        doc.error(f"file is too large (more than {limit} bytes)")
        return None
    return raw


def _os_problem(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop: the path never reaches a file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: cannot read the file"
    return f"cannot read the file: {exc.strerror or exc}"


def read_source(path: Path, *, shown: str | None = None,
                expected: Expected = PIPELINE_SPEC) -> tuple[SourceDocument, bytes | None]:
    """Read and parse one spec file. `shown` is the path as reported in messages; `expected` what
    the file holds (for an empty file's message)."""
    doc = SourceDocument(path=shown if shown is not None else str(path))
    raw = read_bytes(path, doc)
    if raw is None:
        doc.fatal = True
        return doc, None
    text = _decode(raw, doc)
    if text is None:
        doc.fatal = True
        return doc, raw
    parsed = parse_text(text, doc.path, expected=expected)
    return parsed, raw
