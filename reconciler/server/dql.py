"""The subset of Dataloop's query language (DQL) that dtlpy sends, evaluated over JSON documents.

Pure functions, no I/O. The local control plane compiles the `filter` of a `POST .../query` body once
(`compile_filter`), runs the predicate over the stored documents, orders them (`sort_documents`) and
cuts one page (`paginate`). Any malformed or unsupported input raises `DqlError`; its message is
meant to be sent back to the client as a 400 as is.

Semantics (chosen to follow MongoDB, which DQL is modelled on, wherever dtlpy does not say more):

- A filter is a dict of conditions, all of which must hold. `$and` / `$or` take lists of filters and
  nest freely. An empty or None filter, and an empty `$and` / `$or` list, match everything (the SDK
  sends `{}` from the global repositories; an empty list is treated as "no constraint" rather than an
  error so that a hand-built filter with nothing in it behaves like `{}`).
- A condition is `{field: value}` (equality) or `{field: {"$op": v, ...}}` (all operators must hold).
  A dict value whose keys do not start with `$` is compared as a whole sub-document.
- `field` is a dotted path (`metadata.system.mimetype`). A numeric segment indexes into a list. When
  the path meets a list it fans out over the elements, and a list at the end of the path offers each
  element *and* the list itself: `{"tags": "a"}` matches `{"tags": ["a", "b"]}`. A condition holds if
  any offered value satisfies it; the negative operators (`$ne`, `$nin`) hold if *no* offered value
  equals the operand, so they also match documents where the field is missing.
- String operands of implicit equality, `$in` and `$nin` may contain `*`, which matches any run of
  characters including `/` (`"image*"` matches `"image/png"`). No other character is special.
  `$eq` and `$ne` compare literally, so a literal `*` can still be matched exactly. A glob is matched
  in time linear in the value (each piece between stars at its leftmost place, never backtracking),
  so no pattern can make a query run for long.
- A filter is bounded: at most MAX_TERMS conditions and operands in all, MAX_STRING_CHARS per string
  operand, MAX_SORT_KEYS sort keys. One request's cost is thus at most proportional to the documents
  it scans, and a larger filter is a 400, not a server busy for minutes.
- Equality is type-strict between booleans and numbers (`true` does not equal `1`); ints and floats
  compare numerically. `{field: null}` matches a null or a missing field.
- `$gt`/`$gte`/`$lt`/`$lte` compare numbers with numbers and strings with strings (ISO timestamps
  therefore compare chronologically); values of any other type never satisfy them.
- `$exists: true|false` tests presence of the path (a present null counts as present).
- `$match: {sub-filter}` is Mongo's `$elemMatch`: it holds if some element of the list at `field`
  (or the value itself, when it is a single dict) satisfies the sub-filter. dtlpy uses it for
  `metadata.system.refs` in task queries.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

Predicate = Callable[[Any], bool]

MAX_PAGE_SIZE: Final = 1000
"""dtlpy clamps `pageSize` to 1000 client-side (`Filters.__validate_page_size`); pipelines use 100."""

_MISSING: Final = object()

MAX_DEPTH: Final = 32
"""Deepest `$and`/`$or`/`$match` nesting accepted; deeper input is refused before Python's recursion
limit could turn it into a server error."""

MAX_TERMS: Final = 1000
"""Most conditions and operands (each `$in` element counts) in one filter."""

MAX_STRING_CHARS: Final = 1000
"""Longest string operand (a name, an id, a glob pattern) in a filter."""

MAX_SORT_KEYS: Final = 16


class DqlError(ValueError):
    """A filter, sort or page request that the local control plane cannot evaluate (answered with 400)."""


# --------------------------------------------------------------------------------------------------
# filter


def compile_filter(flt: Mapping[str, Any] | None) -> Callable[[Mapping[str, Any]], bool]:
    """Compile a DQL filter into a predicate over one JSON document.

    Validation happens here, once, so that a bad filter fails before any document is scanned.
    Raises DqlError for anything that is not a DQL filter of the supported subset.
    """
    if flt is None:
        return _always
    return _compile_filter(flt, "filter", 0, _Budget())


def _always(_doc: Any) -> bool:
    return True


class _Budget:
    """Counts the terms of one filter as it compiles; DqlError past MAX_TERMS."""

    def __init__(self) -> None:
        self.terms = 0

    def spend(self, where: str, count: int = 1) -> None:
        self.terms += count
        if self.terms > MAX_TERMS:
            raise DqlError(f"{where}: the filter has more than {MAX_TERMS} conditions and operands")


def _check_operand(value: Any, where: str) -> None:
    if isinstance(value, str) and len(value) > MAX_STRING_CHARS:
        raise DqlError(f"{where}: a string operand longer than {MAX_STRING_CHARS} characters")


def _compile_filter(flt: Any, where: str, depth: int, budget: _Budget) -> Predicate:
    if depth > MAX_DEPTH:
        raise DqlError(f"{where}: filter nested deeper than {MAX_DEPTH} levels")
    if not isinstance(flt, Mapping):
        raise DqlError(f"{where}: a filter must be an object, got {_type_name(flt)}")
    parts: list[Predicate] = []
    for key, value in flt.items():
        if not isinstance(key, str) or key == "":
            raise DqlError(f"{where}: field names must be non-empty strings")
        budget.spend(where)
        if key in ("$and", "$or"):
            parts.append(_compile_logical(key, value, f"{where}.{key}", depth, budget))
        elif key.startswith("$"):
            raise DqlError(f"{where}: unsupported operator {key!r} at the top of a filter (use $and or $or)")
        else:
            parts.append(_compile_condition(key, value, f"{where}.{key}", depth, budget))
    return _all_of(parts)


def _compile_logical(op: str, value: Any, where: str, depth: int, budget: _Budget) -> Predicate:
    if not isinstance(value, list):
        raise DqlError(f"{where}: {op} takes a list of filters, got {_type_name(value)}")
    subs = [_compile_filter(item, f"{where}[{i}]", depth + 1, budget) for i, item in enumerate(value)]
    if op == "$and" or not subs:
        return _all_of(subs)
    return lambda doc: any(sub(doc) for sub in subs)


def _all_of(parts: list[Predicate]) -> Predicate:
    if not parts:
        return _always
    if len(parts) == 1:
        return parts[0]
    return lambda doc: all(part(doc) for part in parts)


def _compile_condition(field: str, value: Any, where: str, depth: int, budget: _Budget) -> Predicate:
    path = _split_path(field, where)
    if isinstance(value, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in value):
        if not all(isinstance(k, str) and k.startswith("$") for k in value):
            raise DqlError(f"{where}: cannot mix operators and plain fields in one condition")
        if not value:
            raise DqlError(f"{where}: empty operator object")
        budget.spend(where, len(value))
        tests = [_compile_operator(op, operand, path, f"{where}.{op}", depth, budget)
                 for op, operand in value.items()]
        return _all_of(tests)
    _check_operand(value, where)
    return _compile_equality(path, value, glob=True)


def _compile_operator(op: str, operand: Any, path: tuple[str, ...], where: str, depth: int,
                      budget: _Budget) -> Predicate:
    _check_operand(operand, where)
    if op == "$eq":
        return _compile_equality(path, operand, glob=False)
    if op == "$ne":
        eq = _compile_equality(path, operand, glob=False)
        return lambda doc: not eq(doc)
    if op in ("$in", "$nin"):
        if not isinstance(operand, list):
            raise DqlError(f"{where}: {op} takes a list, got {_type_name(operand)}")
        budget.spend(where, len(operand))
        for index, item in enumerate(operand):
            _check_operand(item, f"{where}[{index}]")
        one_of = _one_of(operand)

        def is_in(doc: Any) -> bool:
            return any(one_of(v) for v in _offered(doc, path)) or (
                any(_is_null(item) for item in operand) and not _present(doc, path)
            )

        if op == "$in":
            return is_in
        return lambda doc: not is_in(doc)
    if op in _ORDERINGS:
        if _is_number(operand):
            kind: type = float
        elif isinstance(operand, str):
            kind = str
        else:
            raise DqlError(f"{where}: {op} compares numbers or strings, got {_type_name(operand)}")
        cmp = _ORDERINGS[op]

        def ordered(doc: Any) -> bool:
            for v in _offered(doc, path):
                if kind is float and _is_number(v) and cmp(v, operand):
                    return True
                if kind is str and isinstance(v, str) and cmp(v, operand):
                    return True
            return False

        return ordered
    if op == "$exists":
        if not isinstance(operand, bool) and operand not in (0, 1):
            raise DqlError(f"{where}: $exists takes true or false, got {_type_name(operand)}")
        want = bool(operand)
        return lambda doc: _present(doc, path) is want
    if op == "$match":
        sub = _compile_filter(operand, where, depth + 1, budget)

        def elem_match(doc: Any) -> bool:
            for v in _resolve(doc, path):
                elements = v if isinstance(v, list) else [v]
                if any(isinstance(e, Mapping) and sub(e) for e in elements):
                    return True
            return False

        return elem_match
    raise DqlError(f"{where}: unsupported operator {op!r} (supported: {', '.join(_SUPPORTED)})")


_ORDERINGS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}
_SUPPORTED: Final = ("$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists", "$match")


def _compile_equality(path: tuple[str, ...], operand: Any, *, glob: bool) -> Predicate:
    matcher = _value_matcher(operand, glob=glob)
    if _is_null(operand):
        # Mongo: {field: null} also matches documents that lack the field.
        return lambda doc: not _present(doc, path) or any(matcher(v) for v in _offered(doc, path))
    return lambda doc: any(matcher(v) for v in _offered(doc, path))


def _value_matcher(operand: Any, *, glob: bool) -> Predicate:
    if glob and isinstance(operand, str) and "*" in operand:
        return _glob_matcher(operand)
    return lambda v: _equal(v, operand)


def _one_of(operands: list[Any]) -> Predicate:
    """A predicate: does a value equal (or, a string, match as a glob) one of `operands`?

    Plain strings and numbers are looked up in sets, so a value costs one lookup, not one
    comparison per operand: an `$in` of 1000 ids over 10,000 items, or over items whose metadata
    holds long lists, was a million comparisons per thousand values (100 items of 1000 tags: 31 s).
    Only globs and the other operands (booleans, null, objects, lists) are compared one by one.
    """
    strings = {o for o in operands if isinstance(o, str) and "*" not in o}
    # equal ints and floats hash alike, as `_equal` compares them; NaN equals nothing, so it stays out
    numbers = {o for o in operands if _is_number(o) and o == o}
    others = [_value_matcher(o, glob=True) for o in operands
              if not (isinstance(o, str) and o in strings) and not (_is_number(o) and o in numbers)]

    def matches(value: Any) -> bool:
        if isinstance(value, str) and value in strings:
            return True
        if _is_number(value) and value in numbers:
            return True
        return any(m(value) for m in others)

    return matches


def _glob_matcher(pattern: str) -> Predicate:
    """A predicate: does a string match `pattern`, whose `*` matches any run of characters?

    The text before the first star must start the value, the text after the last star end it,
    and each piece in between is found at its leftmost place after the previous one. Taking the
    leftmost place is never wrong (a later one leaves less room for the rest), so nothing is ever
    tried twice: one pass over the value, whatever the pattern. A regex `a.*b.*c` backtracks
    instead, its time a power of the value's length that grows with each star (minutes for
    `*a*a*c` on 20,000 characters, holding the interpreter lock, so the whole server froze).
    """
    head, *middle, tail = pattern.split("*")
    middle = [piece for piece in middle if piece]  # "**" is "*"
    shortest = len(head) + len(tail) + sum(map(len, middle))

    def matches(value: Any) -> bool:
        if not isinstance(value, str) or len(value) < shortest:
            return False
        if not (value.startswith(head) and value.endswith(tail)):
            return False
        position, end = len(head), len(value) - len(tail)
        for piece in middle:
            found = value.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
        return True

    return matches


def _equal(a: Any, b: Any) -> bool:
    """JSON equality that keeps booleans apart from numbers, recursively."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


# --------------------------------------------------------------------------------------------------
# dotted paths


def _split_path(field: str, where: str) -> tuple[str, ...]:
    parts = tuple(field.split("."))
    if any(p == "" for p in parts):
        raise DqlError(f"{where}: malformed field path {field!r}")
    return parts


def _resolve(value: Any, path: tuple[str, ...]) -> Iterator[Any]:
    """Every value reached by `path`, fanning out over lists met on the way (not at the end)."""
    if not path:
        yield value
        return
    head, rest = path[0], path[1:]
    if isinstance(value, Mapping):
        if head in value:
            yield from _resolve(value[head], rest)
    elif isinstance(value, list):
        if head.isdigit():
            index = int(head)
            if index < len(value):
                yield from _resolve(value[index], rest)
        for element in value:
            if isinstance(element, Mapping):
                yield from _resolve(element, path)


def _offered(doc: Any, path: tuple[str, ...]) -> Iterator[Any]:
    """The values a condition is tested against: each resolved value, and the elements of lists."""
    for v in _resolve(doc, path):
        yield v
        if isinstance(v, list):
            yield from v


def _present(doc: Any, path: tuple[str, ...]) -> bool:
    return next(_resolve(doc, path), _MISSING) is not _MISSING


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_null(v: Any) -> bool:
    return v is None


def _type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if _is_number(v):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, Mapping):
        return "an object"
    return type(v).__name__


# --------------------------------------------------------------------------------------------------
# sort

_DIRECTIONS: Final[dict[Any, bool]] = {"ascending": False, "descending": True, 1: False, -1: True}


def sort_documents(docs: list[dict[str, Any]], sort: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Return `docs` ordered by `sort` = `{field: "ascending"|"descending"|1|-1, ...}` (first key wins).

    Stable: documents that tie on every key keep the order they were given in (the caller passes
    insertion order, which makes paging deterministic). Values order as Mongo orders types: missing
    or null < numbers < strings < objects < lists < booleans; so missing values come first when
    ascending and last when descending. Raises DqlError for a malformed sort.
    """
    if not sort:
        return list(docs)
    if not isinstance(sort, Mapping):
        raise DqlError(f"sort: must be an object of field -> direction, got {_type_name(sort)}")
    if len(sort) > MAX_SORT_KEYS:
        raise DqlError(f"sort: at most {MAX_SORT_KEYS} keys")
    keys: list[tuple[tuple[str, ...], bool]] = []
    for field, direction in sort.items():
        if not isinstance(field, str) or not field:
            raise DqlError("sort: field names must be non-empty strings")
        normalized = direction.lower() if isinstance(direction, str) else direction
        # Only str/int can be keys; anything else (a list, an object) must be refused, not hashed.
        if not isinstance(normalized, (str, int)) or isinstance(normalized, bool) or normalized not in _DIRECTIONS:
            raise DqlError(f"sort.{field}: direction must be 'ascending', 'descending', 1 or -1, got {direction!r}")
        keys.append((_split_path(field, f"sort.{field}"), _DIRECTIONS[normalized]))
    ordered = list(docs)
    # Python's sort is stable, including with reverse=True, so sorting by the least significant key
    # first yields a lexicographic multi-key order that still keeps insertion order on full ties.
    for path, descending in reversed(keys):
        ordered.sort(key=_sort_key_at(path), reverse=descending)
    return ordered


def _sort_key_at(path: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    """The sort key of a document by the first value at `path` (missing sorts as null)."""

    def key(doc: dict[str, Any]) -> tuple[int, Any]:
        return _sort_key(next(_resolve(doc, path), None))

    return key


def _sort_key(v: Any) -> tuple[int, Any]:
    if v is None:
        return (0, 0)
    if isinstance(v, bool):
        return (5, v)
    if _is_number(v):
        return (1, v)
    if isinstance(v, str):
        return (2, v)
    # Objects and lists have no natural order; canonical JSON text gives a deterministic one.
    rank = 4 if isinstance(v, list) else 3
    return (rank, json.dumps(v, sort_keys=True, default=str))


# --------------------------------------------------------------------------------------------------
# paging


def paginate(items: list[Any], page: int, page_size: int) -> dict[str, Any]:
    """One page of `items` in the paged-response shape every Dataloop query route answers with.

    `page` is 0-based. A page past the end is empty with `hasNextPage` false (dtlpy stops on it).
    Raises DqlError unless `page >= 0` and `1 <= page_size <= MAX_PAGE_SIZE` (both ints).
    """
    if not isinstance(page, int) or isinstance(page, bool) or page < 0:
        raise DqlError(f"page must be an integer >= 0, got {page!r}")
    if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise DqlError(f"pageSize must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
    total = len(items)
    pages = math.ceil(total / page_size)
    start = page * page_size
    return {
        "totalItemsCount": total,
        "items": list(items[start : start + page_size]),
        "totalPagesCount": pages,
        "hasNextPage": page + 1 < pages,
    }
