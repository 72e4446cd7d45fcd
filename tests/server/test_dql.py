"""The DQL subset: every operator, globs, dotted paths, nesting, sorting and paging edges."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from reconciler.server.dql import (
    MAX_PAGE_SIZE,
    MAX_SORT_KEYS,
    MAX_STRING_CHARS,
    MAX_TERMS,
    DqlError,
    compile_filter,
    paginate,
    sort_documents,
)

DOCS: list[dict[str, Any]] = [
    {
        "id": "a",
        "name": "image-pipe",
        "projectId": "p1",
        "status": "Installed",
        "revision": 3,
        "createdAt": "2024-01-02T00:00:00.000Z",
        "metadata": {"system": {"mimetype": "image/png"}, "user": {"tier": "gold"}},
        "tags": ["alpha", "beta"],
        "nodes": [{"id": "n1", "type": "code"}, {"id": "n2", "type": "task"}],
        "archived": False,
    },
    {
        "id": "b",
        "name": "video-pipe",
        "projectId": "p1",
        "status": "Created",
        "revision": 1,
        "createdAt": "2024-01-01T00:00:00.000Z",
        "metadata": {"system": {"mimetype": "video/mp4"}},
        "tags": [],
        "nodes": [{"id": "n3", "type": "ml"}],
        "archived": True,
        "description": None,
    },
    {
        "id": "c",
        "name": "image*literal",
        "projectId": "p2",
        "status": "Failure",
        "revision": 2.5,
        "createdAt": "2024-01-03T00:00:00.000Z",
        "metadata": {},
        "nodes": [],
        "archived": 0,
    },
]


def ids(flt: dict[str, Any] | None) -> list[str]:
    match = compile_filter(flt)
    return [d["id"] for d in DOCS if match(d)]


# --- filter: structure --------------------------------------------------------------------------


@pytest.mark.parametrize("flt", [None, {}, {"$and": []}, {"$or": []}, {"$and": [{}]}])
def test_empty_filters_match_everything(flt: dict[str, Any] | None) -> None:
    assert ids(flt) == ["a", "b", "c"]


def test_several_keys_in_one_filter_are_all_required() -> None:
    assert ids({"projectId": "p1", "status": "Created"}) == ["b"]


def test_and_or_nest() -> None:
    flt = {
        "$and": [
            {"$or": [{"status": "Installed"}, {"status": "Failure"}]},
            {"$or": [{"projectId": "p2"}, {"$and": [{"revision": 3}, {"name": "image*"}]}]},
        ]
    }
    assert ids(flt) == ["a", "c"]


def test_top_level_and_and_or_combine() -> None:
    assert ids({"$or": [{"id": "a"}, {"id": "b"}], "$and": [{"projectId": "p1"}, {"archived": True}]}) == ["b"]


def test_duplicate_conditions_are_harmless() -> None:
    # dtlpy adds the projectId condition twice when a custom filter already has one.
    assert ids({"$and": [{"projectId": "p1"}, {"projectId": "p1"}, {"name": "video-pipe"}]}) == ["b"]


# --- filter: equality and globs -----------------------------------------------------------------


def test_equality_on_dotted_path() -> None:
    assert ids({"metadata.system.mimetype": "video/mp4"}) == ["b"]


def test_glob_star_matches_any_run_including_slash() -> None:
    assert ids({"metadata.system.mimetype": "image*"}) == ["a"]
    assert ids({"name": "*-pipe"}) == ["a", "b"]
    assert ids({"name": "*"}) == ["a", "b", "c"]
    assert ids({"name": "i*l"}) == ["c"]


def test_glob_only_treats_star_specially() -> None:
    assert ids({"name": "image?pipe"}) == []
    assert ids({"name": "image.pipe*"}) == []


def test_glob_never_matches_non_strings() -> None:
    assert ids({"revision": "*"}) == []


def _words(alphabet: str, longest: int) -> list[str]:
    return ["".join(w) for n in range(longest + 1) for w in itertools.product(alphabet, repeat=n)]


def test_globs_match_exactly_what_a_regex_of_them_matches() -> None:
    # Every pattern over {a, b, *} up to 5 characters against every value over {a, b} up to 6: the
    # linear matcher agrees with the (backtracking, so only safe on short values) regex reading.
    values = _words("ab", 6)
    for pattern in _words("ab*", 5):
        if "*" not in pattern:
            continue
        regex = re.compile(".*".join(re.escape(piece) for piece in pattern.split("*")), re.DOTALL)
        match = compile_filter({"name": pattern})
        for value in values:
            assert match({"name": value}) is (regex.fullmatch(value) is not None), (pattern, value)


@pytest.mark.parametrize(("pattern", "matched"), [
    ("*a*a*c", False), ("*a*a*a", True), ("a*a*a*", True), ("*a*b*a", False), ("a*" * 50, True),
    ("**a**", True), ("*" + "a" * 999, True), ("*c", False),
])
def test_globs_with_many_stars_answer_correctly(pattern: str, matched: bool) -> None:
    # The same against 20,000 characters, through `loopform serve` with a deadline, is in
    # test_serve_limits: as a regex, `*a*a*c` there backtracks for minutes holding the interpreter lock.
    assert compile_filter({"description": pattern})({"description": "a" * 1000}) is matched


def test_a_glob_piece_never_overlaps_the_fixed_start_or_end() -> None:
    match = compile_filter({"name": "ab*ba"})
    assert [v for v in ("aba", "abba", "ab-ba", "abab") if match({"name": v})] == ["abba", "ab-ba"]
    assert compile_filter({"name": "a*b*a"})({"name": "aba"}) is True
    assert compile_filter({"name": "a*ab*b"})({"name": "ab"}) is False


@pytest.mark.parametrize(("flt", "message"), [
    ({"name": "*" + "a" * MAX_STRING_CHARS}, f"longer than {MAX_STRING_CHARS} characters"),
    ({"name": {"$in": ["x" * (MAX_STRING_CHARS + 1)]}}, f"longer than {MAX_STRING_CHARS} characters"),
    ({"name": {"$eq": "x" * (MAX_STRING_CHARS + 1)}}, f"longer than {MAX_STRING_CHARS} characters"),
    ({"name": {"$in": ["x"] * MAX_TERMS}}, f"more than {MAX_TERMS} conditions"),
    ({"$or": [{"name": str(n)} for n in range(MAX_TERMS)]}, f"more than {MAX_TERMS} conditions"),
])
def test_oversized_filters_are_refused(flt: dict[str, Any], message: str) -> None:
    with pytest.raises(DqlError, match=message):
        compile_filter(flt)


def test_filters_within_the_bounds_are_accepted() -> None:
    assert ids({"name": {"$in": ["image-pipe", *(["x" * MAX_STRING_CHARS] * (MAX_TERMS - 3))]}}) == ["a"]


def test_eq_is_literal_so_a_star_can_be_matched_exactly() -> None:
    assert ids({"name": {"$eq": "image*literal"}}) == ["c"]
    assert ids({"name": {"$eq": "image*"}}) == []


def test_booleans_and_numbers_are_not_equal() -> None:
    assert ids({"archived": False}) == ["a"]
    assert ids({"archived": 0}) == ["c"]
    assert ids({"revision": 2.5}) == ["c"]
    assert ids({"revision": 3.0}) == ["a"]


def test_null_matches_null_or_missing() -> None:
    assert ids({"description": None}) == ["a", "b", "c"]
    assert ids({"description": {"$ne": None}}) == []
    assert ids({"tags": None}) == ["c"]


def test_whole_subdocument_equality() -> None:
    assert ids({"metadata": {"system": {"mimetype": "video/mp4"}}}) == ["b"]
    assert ids({"metadata": {}}) == ["c"]


# --- filter: arrays -----------------------------------------------------------------------------


def test_array_matches_if_any_element_matches() -> None:
    assert ids({"tags": "beta"}) == ["a"]
    assert ids({"tags": "al*"}) == ["a"]


def test_array_matches_whole_array_too() -> None:
    assert ids({"tags": ["alpha", "beta"]}) == ["a"]
    assert ids({"tags": []}) == ["b"]


def test_path_fans_out_through_arrays_of_objects() -> None:
    assert ids({"nodes.type": "task"}) == ["a"]
    assert ids({"nodes.id": {"$in": ["n3", "zz"]}}) == ["b"]


def test_numeric_segment_indexes_a_list() -> None:
    assert ids({"nodes.0.type": "code"}) == ["a"]
    assert ids({"nodes.1.type": "code"}) == []
    assert ids({"tags.1": "beta"}) == ["a"]


# --- filter: operators --------------------------------------------------------------------------


def test_in_and_nin() -> None:
    assert ids({"status": {"$in": ["Installed", "Created"]}}) == ["a", "b"]
    assert ids({"status": {"$nin": ["Installed", "Created"]}}) == ["c"]
    assert ids({"status": {"$in": []}}) == []
    assert ids({"status": {"$nin": []}}) == ["a", "b", "c"]


def test_in_and_nin_accept_globs() -> None:
    assert ids({"name": {"$in": ["video*", "nothing"]}}) == ["b"]
    assert ids({"name": {"$nin": ["*-pipe"]}}) == ["c"]


@pytest.mark.parametrize(("value", "operands", "found"), [
    (1, [1.0], True), (1.5, [1.5, "1.5"], True), ("1", [1], False), (True, [1], False), (1, [True], False),
    (True, [True], True), (None, [0, ""], False), ("a*", ["a*"], True), ("ab", ["a*"], True),
    ({"k": 1}, [{"k": 1.0}], True), ([1], [[1]], True), (float("nan"), [float("nan")], False),
])
def test_in_compares_each_type_as_equality_does(value: Any, operands: list[Any], found: bool) -> None:
    # plain strings and numbers are looked up in sets (one lookup per value, however many operands):
    # the lookup keeps equality's rules, booleans apart from numbers, ints equal to floats
    assert compile_filter({"v": {"$in": operands}})({"v": value}) is found
    assert compile_filter({"v": {"$in": ["x", 2, *operands, False]}})({"v": value}) is found


def test_in_with_null_matches_missing() -> None:
    assert ids({"tags": {"$in": [None]}}) == ["c"]


def test_nin_and_ne_match_missing_fields() -> None:
    assert ids({"metadata.user.tier": {"$ne": "gold"}}) == ["b", "c"]
    assert ids({"metadata.user.tier": {"$nin": ["gold"]}}) == ["b", "c"]


def test_ne_on_array_means_no_element_equals() -> None:
    assert ids({"tags": {"$ne": "alpha"}}) == ["b", "c"]


def test_numeric_comparisons() -> None:
    assert ids({"revision": {"$gt": 2}}) == ["a", "c"]
    assert ids({"revision": {"$gte": 3}}) == ["a"]
    assert ids({"revision": {"$lt": 2.5}}) == ["b"]
    assert ids({"revision": {"$lte": 2.5}}) == ["b", "c"]


def test_string_comparisons_order_iso_timestamps() -> None:
    assert ids({"createdAt": {"$gt": "2024-01-01T12:00:00.000Z"}}) == ["a", "c"]
    assert ids({"createdAt": {"$lte": "2024-01-02T00:00:00.000Z"}}) == ["a", "b"]


def test_comparisons_never_cross_types() -> None:
    assert ids({"name": {"$gt": 0}}) == []
    assert ids({"revision": {"$gt": ""}}) == []
    assert ids({"archived": {"$gte": 0}}) == ["c"]  # booleans are not numbers


def test_several_operators_in_one_condition_are_all_required() -> None:
    assert ids({"revision": {"$gt": 1, "$lt": 3}}) == ["c"]


def test_exists() -> None:
    assert ids({"tags": {"$exists": True}}) == ["a", "b"]
    assert ids({"tags": {"$exists": False}}) == ["c"]
    assert ids({"description": {"$exists": True}}) == ["b"]  # a present null counts as present
    assert ids({"metadata.system": {"$exists": True}}) == ["a", "b"]


def test_match_is_elem_match() -> None:
    assert ids({"nodes": {"$match": {"id": "n2", "type": "task"}}}) == ["a"]
    assert ids({"nodes": {"$match": {"id": "n1", "type": "task"}}}) == []
    assert ids({"metadata": {"$match": {"system.mimetype": "video*"}}}) == ["b"]


def test_match_as_dtlpy_sends_it_for_task_refs() -> None:
    item = {"metadata": {"system": {"refs": [{"id": "t1", "type": "task", "metadata": {"status": "done"}}]}}}
    flt = {
        "$and": [
            {
                "metadata.system.refs": {
                    "$match": {"id": "t1", "type": "task", "metadata": {"status": {"$exists": True}}}
                }
            }
        ]
    }
    # The sub-document {"status": {"$exists": true}} is a nested filter only in the server's eyes;
    # as a plain sub-document it must not match, which is what Mongo's $elemMatch does too.
    assert compile_filter(flt)(item) is False
    flat = {"$and": [{"metadata.system.refs": {"$match": {"id": "t1", "metadata.status": {"$exists": True}}}}]}
    assert compile_filter(flat)(item) is True


def test_filter_works_on_a_dtlpy_generated_query() -> None:
    import json

    flt = json.loads(
        '{"$and": [{"hidden": false}, {"type": "file"}, {"metadata.system.mimetype": "image*"}]}'
    )
    match = compile_filter(flt)
    assert match({"hidden": False, "type": "file", "metadata": {"system": {"mimetype": "image/jpeg"}}})
    assert not match({"hidden": True, "type": "file", "metadata": {"system": {"mimetype": "image/jpeg"}}})


# --- filter: errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ([], "filter: a filter must be an object, got a list"),
        ({"$and": {"a": 1}}, "filter.$and: $and takes a list of filters, got an object"),
        ({"$or": [1]}, "filter.$or[0]: a filter must be an object, got a number"),
        ({"$nor": []}, "filter: unsupported operator '$nor' at the top of a filter (use $and or $or)"),
        ({"a": {"$regex": "x"}}, "filter.a.$regex: unsupported operator '$regex'"),
        ({"a": {"$in": "x"}}, "filter.a.$in: $in takes a list, got a string"),
        ({"a": {"$nin": None}}, "filter.a.$nin: $nin takes a list, got null"),
        ({"a": {"$gt": [1]}}, "filter.a.$gt: $gt compares numbers or strings, got a list"),
        ({"a": {"$lt": True}}, "filter.a.$lt: $lt compares numbers or strings, got a boolean"),
        ({"a": {"$exists": "yes"}}, "filter.a.$exists: $exists takes true or false, got a string"),
        ({"a": {"$match": 3}}, "filter.a.$match: a filter must be an object, got a number"),
        ({"a": {"$eq": 1, "b": 2}}, "filter.a: cannot mix operators and plain fields in one condition"),
        ({"a..b": 1}, "filter.a..b: malformed field path 'a..b'"),
        ({"": 1}, "filter: field names must be non-empty strings"),
        ({"$and": [{"$or": [{"x": {"$bad": 1}}]}]}, "filter.$and[0].$or[0].x.$bad: unsupported operator"),
    ],
)
def test_malformed_filters_raise_located_errors(flt: Any, message: str) -> None:
    with pytest.raises(DqlError) as err:
        compile_filter(flt)
    assert str(err.value).startswith(message)


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    flt: dict[str, Any] = {"id": "a"}
    for _ in range(40):
        flt = {"$and": [flt]}
    with pytest.raises(DqlError, match="nested deeper than 32 levels"):
        compile_filter(flt)
    shallow: dict[str, Any] = {"id": "a"}
    for _ in range(30):
        shallow = {"$or": [shallow]}
    assert ids(shallow) == ["a"]


def test_dql_error_is_a_value_error() -> None:
    assert issubclass(DqlError, ValueError)


# --- sort ---------------------------------------------------------------------------------------


def names(docs: list[dict[str, Any]]) -> list[str]:
    return [d["id"] for d in docs]


def test_no_sort_keeps_the_given_order_and_copies() -> None:
    out = sort_documents(DOCS, None)
    assert names(out) == ["a", "b", "c"] and out is not DOCS
    assert names(sort_documents(DOCS, {})) == ["a", "b", "c"]


@pytest.mark.parametrize("direction", ["ascending", 1, "ASCENDING"])
def test_sort_ascending(direction: Any) -> None:
    assert names(sort_documents(DOCS, {"createdAt": direction})) == ["b", "a", "c"]


@pytest.mark.parametrize("direction", ["descending", -1])
def test_sort_descending(direction: Any) -> None:
    assert names(sort_documents(DOCS, {"revision": direction})) == ["a", "c", "b"]


def test_missing_values_sort_first_ascending_and_last_descending() -> None:
    docs = [{"id": "x", "v": 2}, {"id": "y"}, {"id": "z", "v": 1}, {"id": "w", "v": None}]
    assert names(sort_documents(docs, {"v": "ascending"})) == ["y", "w", "z", "x"]
    assert names(sort_documents(docs, {"v": "descending"})) == ["x", "z", "y", "w"]


def test_sort_is_stable_on_ties_in_both_directions() -> None:
    docs = [{"id": str(i), "g": i % 2} for i in range(6)]
    assert names(sort_documents(docs, {"g": "ascending"})) == ["0", "2", "4", "1", "3", "5"]
    assert names(sort_documents(docs, {"g": "descending"})) == ["1", "3", "5", "0", "2", "4"]


def test_sort_by_several_keys_first_key_most_significant() -> None:
    docs = [
        {"id": "1", "p": "b", "n": 1},
        {"id": "2", "p": "a", "n": 2},
        {"id": "3", "p": "b", "n": 0},
        {"id": "4", "p": "a", "n": 1},
    ]
    assert names(sort_documents(docs, {"p": "ascending", "n": "descending"})) == ["2", "4", "1", "3"]


def test_sort_mixed_types_by_type_rank() -> None:
    docs = [{"id": "s", "v": "x"}, {"id": "b", "v": True}, {"id": "n", "v": 5}, {"id": "o", "v": {"k": 1}}]
    assert names(sort_documents(docs, {"v": 1})) == ["n", "s", "o", "b"]


def test_sort_on_dotted_path() -> None:
    assert names(sort_documents(DOCS, {"metadata.system.mimetype": -1})) == ["b", "a", "c"]


@pytest.mark.parametrize(
    ("sort", "message"),
    [
        ({"a": "up"}, "sort.a: direction must be"),
        ({"a": True}, "sort.a: direction must be"),
        ({"a": 0}, "sort.a: direction must be"),
        ({"a": [1]}, "sort.a: direction must be"),
        ({"a": {"order": 1}}, "sort.a: direction must be"),
        (["a"], "sort: must be an object"),
        ({"a.": 1}, "sort.a.: malformed field path"),
        ({f"k{n}": 1 for n in range(MAX_SORT_KEYS + 1)}, f"sort: at most {MAX_SORT_KEYS} keys"),
    ],
)
def test_malformed_sort_raises(sort: Any, message: str) -> None:
    with pytest.raises(DqlError, match="^" + message.replace(".", r"\.")):
        sort_documents(DOCS, sort)


# --- paging -------------------------------------------------------------------------------------


def test_paginate_empty() -> None:
    assert paginate([], 0, 100) == {"totalItemsCount": 0, "items": [], "totalPagesCount": 0, "hasNextPage": False}


def test_paginate_exact_multiple() -> None:
    items = list(range(20))
    first = paginate(items, 0, 10)
    last = paginate(items, 1, 10)
    beyond = paginate(items, 2, 10)
    assert first == {"totalItemsCount": 20, "items": list(range(10)), "totalPagesCount": 2, "hasNextPage": True}
    assert last == {"totalItemsCount": 20, "items": list(range(10, 20)), "totalPagesCount": 2, "hasNextPage": False}
    assert beyond == {"totalItemsCount": 20, "items": [], "totalPagesCount": 2, "hasNextPage": False}


def test_paginate_partial_last_page() -> None:
    out = paginate(list(range(25)), 2, 10)
    assert out == {"totalItemsCount": 25, "items": [20, 21, 22, 23, 24], "totalPagesCount": 3, "hasNextPage": False}
    assert paginate(list(range(25)), 1, 10)["hasNextPage"] is True


def test_paginate_pages_cover_every_item_exactly_once() -> None:
    items = list(range(2501))
    seen: list[int] = []
    page = 0
    while True:
        out = paginate(items, page, 100)
        seen.extend(out["items"])
        if not out["hasNextPage"]:
            break
        page += 1
    assert seen == items and page == 25


def test_paginate_page_size_bounds() -> None:
    assert paginate([1, 2], 0, 1)["items"] == [1]
    assert len(paginate(list(range(5000)), 0, MAX_PAGE_SIZE)["items"]) == MAX_PAGE_SIZE


@pytest.mark.parametrize(
    ("page", "size", "message"),
    [
        (-1, 10, "page must be an integer >= 0, got -1"),
        ("0", 10, "page must be an integer >= 0, got '0'"),
        (True, 10, "page must be an integer >= 0, got True"),
        (0, 0, f"pageSize must be an integer from 1 to {MAX_PAGE_SIZE}, got 0"),
        (0, MAX_PAGE_SIZE + 1, f"pageSize must be an integer from 1 to {MAX_PAGE_SIZE}, got {MAX_PAGE_SIZE + 1}"),
        (0, 2.0, f"pageSize must be an integer from 1 to {MAX_PAGE_SIZE}, got 2.0"),
    ],
)
def test_paginate_rejects_bad_paging(page: Any, size: Any, message: str) -> None:
    with pytest.raises(DqlError) as err:
        paginate([1], page, size)
    assert str(err.value) == message
