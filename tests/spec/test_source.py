"""YAML reading: data as safe_load would give it (minus dates), with marks for every pointer."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec_corpus import VALID

from reconciler.spec import load
from reconciler.spec.source import parse_text


def test_marks_point_at_keys_and_items() -> None:
    doc = parse_text(VALID, "v.yaml")
    assert doc.errors == []
    assert str(doc.locate("/spec/nodes/work")) == "v.yaml:8:5"
    assert str(doc.locate("/spec/connections/0")) == "v.yaml:10:7"
    assert str(doc.locate("/spec/connections/0/to")) == "v.yaml:10:19"
    # an absent pointer falls back to its nearest located ancestor, keeping the pointer asked for
    located = doc.locate("/spec/nodes/work/task/recipe")
    assert (located.line, located.col, located.pointer) == (8, 5, "/spec/nodes/work/task/recipe")


def test_scalars_are_typed_like_safe_load_except_dates() -> None:
    doc = parse_text(
        "a: 2026-11-20\nb: 2026-11-20T10:00:00Z\nc: yes\nd: 0x1F\ne: 1.5\nf: ~\ng: '3'\nh: 1:30\n", "s"
    )
    assert doc.data == {
        "a": "2026-11-20",
        "b": "2026-11-20T10:00:00Z",
        "c": True,
        "d": 31,
        "e": 1.5,
        "f": None,
        "g": "3",
        "h": 90,  # YAML 1.1 sexagesimal; a string field would say: quote it, "1:30"
    }
    assert doc.plain == {"/c": "yes", "/d": "0x1F", "/e": "1.5", "/f": "~", "/h": "1:30"}


def test_merge_keys_and_anchors() -> None:
    doc = parse_text("base: &b {x: 1, y: 2}\nnode:\n  <<: *b\n  y: 3\n", "m")
    assert doc.errors == []
    assert doc.data == {"base": {"x": 1, "y": 2}, "node": {"y": 3, "x": 1}}
    assert str(doc.locate("/node/x")) == "m:3:3"  # merged keys point at the merge


def test_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "win.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.replace("\n", "\r\n").encode())
    result = load([path])
    assert result.errors == [] and len(result.specs) == 1


def test_a_wrong_string_type_shows_the_quoted_fix(in_tmp: Path) -> None:
    path = Path("s.yaml")
    path.write_text(VALID.replace("code: 'print(1)'}", "code: 'print(1)', function: on}"))
    assert [str(e) for e in load([path]).errors] == [
        's.yaml:8:42: expected a string, got boolean true; YAML 1.1 reads on as a boolean: '
        'quote it, "on"'
    ]


def test_a_path_outside_the_working_directory_is_shown_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    path = tmp_path / "s.yaml"
    path.write_text("[")
    assert [e.location.path for e in load([path]).errors] == [str(path)]


def _mangled(sources: list[str], count: int) -> list[str]:
    """Seeded random edits of `sources` (as test_corpus's crash test makes them)."""
    import random

    rng = random.Random(20261130)
    alphabet = " \n:-[]{},&*!|>'\"#.%@`?\t0123456789abcXYZ"
    texts = []
    for _ in range(count):
        text = list(rng.choice(sources))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(text))
            if rng.random() < 0.5:
                text[pos] = rng.choice(alphabet)
            else:
                start = rng.randrange(len(text))
                text[pos:pos] = text[start:start + rng.randint(1, 40)]
        texts.append("".join(text))
    return texts


def test_the_fast_path_reads_exactly_what_the_event_reader_reads() -> None:
    """A file libyaml reads alone (`_parse_fast`) gets the data, marks and plain texts the
    event-by-event reader gives it, and only files the event reader finds nothing wrong with."""
    import json

    from spec_corpus import CASES

    from reconciler.spec.source import _parse_events, _parse_fast

    root = Path(__file__).parents[2]
    examples = [p.read_text() for p in sorted(root.glob("pipelines/*.yaml")) + sorted(root.glob("examples/**/*.yaml"))]
    corpus = [c.content if isinstance(c.content, str) else c.content.decode("utf-8", "replace") for c in CASES]
    fast_reads = 0
    for text in examples + corpus + _mangled(examples, 400):
        fast = _parse_fast(text, "f.yaml")
        if fast is None:
            continue
        fast_reads += 1
        slow = _parse_events(text, "f.yaml")
        assert (slow.errors, slow.fatal) == ([], False), text
        assert json.dumps(fast.data) == json.dumps(slow.data), text
        assert (fast.marks, fast.plain) == (slow.marks, slow.plain)
    assert all(_parse_fast(text, "f.yaml") is not None for text in examples[:3])  # the usual spec is fast
    assert fast_reads > 100


@pytest.mark.parametrize("text, depth", [
    ("a: " + "[" * 50_000 + "]" * 50_000 + "\n", 50_001),
    ("a: " + "[" * 600 + "]" * 600 + "\n", 601),
    ("a: " + '[" ]]]]", ' * 70 + "]" * 70 + "\n", 71),  # brackets in quoted scalars are not structure
    ("a: " + "[ # ]]]]\n" * 70 + "]" * 70 + "\n", 71),  # nor in comments
    ("a: " + "{k: " * 70 + "v" + "}" * 70 + "\n", 71),
    ("".join(" " * i + f"k{i}:\n" for i in range(70)) + " " * 70 + "v\n", 70),
    ("a:\n" + "  " + "- " * 70 + "x\n", 71),
    ("a:\n" + "".join(" " * i + "- b:\n" + " " * i + "  " for i in range(0, 140, 2)) + "c\n", 141),
])
def test_deep_input_is_our_error_and_never_reaches_libyamls_recursive_composer(text: str, depth: int) -> None:
    from reconciler.spec.source import _COMPOSER_DEPTH, _depth_bound

    bound = _depth_bound(text)
    assert bound >= min(depth, _COMPOSER_DEPTH + 1)
    doc = parse_text(text, "deep.yaml")
    assert doc.fatal and "nesting deeper than 64 levels" in doc.errors[0].message
