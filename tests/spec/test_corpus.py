"""Every bad input gives exactly the located messages listed for it, and nothing crashes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from reconciler.spec import load
from reconciler.spec.source import MAX_BYTES

from spec_corpus import CASES, VALID, Case

pytestmark = pytest.mark.skipif(
    not yaml.__with_libyaml__, reason="messages and positions are libyaml's (PyYAML wheels ship it)"
)


def _report(paths: list[Path]) -> list[str]:
    result = load(paths)
    return [
        f"{e.location.line}:{e.location.col}: "
        f"{'warning: ' if e.severity == 'warning' else ''}{e.message}"
        for e in result.errors
    ]


def test_corpus_is_large_and_distinct() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)
    assert len({c.content for c in CASES}) == len(CASES)


def test_the_base_document_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "valid.yaml"
    path.write_text(VALID)
    assert _report([path]) == []


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(case.content if isinstance(case.content, bytes) else case.content.encode())
    result = load([path])
    assert _report([path]) == case.expected
    assert not result.ok or all(e.severity == "warning" for e in result.errors)
    assert all(e.location.path.endswith("spec.yaml") for e in result.errors)


# ---- inputs that need the file system ------------------------------------------------------


def test_directory_named_like_a_spec(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    assert _report([tmp_path / "dir.yaml"]) == ["1:1: is a directory, not a spec file"]


def test_missing_path(tmp_path: Path) -> None:
    assert _report([tmp_path / "nope.yaml"]) == ["1:1: no such file or directory"]


def test_symlink_loop(tmp_path: Path) -> None:
    os.symlink(tmp_path / "b.yaml", tmp_path / "a.yaml")
    os.symlink(tmp_path / "a.yaml", tmp_path / "b.yaml")
    expected = "1:1: symbolic link loop: the path never reaches a file"
    assert _report([tmp_path / "a.yaml"]) == [expected]
    # found by walking the directory too, once per link
    assert _report([tmp_path]) == [expected, expected]


def test_directory_symlink_loop_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path, tmp_path / "sub" / "again")
    (tmp_path / "ok.yaml").write_text(VALID)
    result = load([tmp_path])
    assert result.ok and result.files == 1


def test_broken_symlink(tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone.yaml", tmp_path / "link.yaml")
    assert _report([tmp_path / "link.yaml"]) == [
        "1:1: broken symbolic link: its target does not exist"
    ]


def test_path_through_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert _report([tmp_path / "file" / "spec.yaml"]) == [
        "1:1: cannot read the file: Not a directory"
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(VALID)
    path.chmod(0)
    assert _report([path]) == ["1:1: permission denied: cannot read the file"]


def test_fifo_is_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    assert _report([tmp_path / "pipe.yaml"]) == ["1:1: not a regular file"]


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (MAX_BYTES + 1))
    assert _report([path]) == [
        f"1:1: file is too large ({MAX_BYTES + 1} bytes; the limit is {MAX_BYTES})"
    ]


def test_huge_flow_nesting_under_the_size_limit(tmp_path: Path) -> None:
    # 50,000 levels crash the C composer (SIGSEGV); the event scan stops at the depth limit.
    path = tmp_path / "deep.yaml"
    path.write_text("[" * 50_000)
    assert _report([path]) == ["1:65: nesting deeper than 64 levels"]


@pytest.mark.parametrize("text, where", [
    ("[" * 1_500 + "]" * 1_500, "1:65"),
    ("spec:\n  nodes: " + "{a: " * 1_200, "2:258"),
    ("spec: ['a]]]]', \"}}}\", " + "[" * 1_200, "1:86"),
    ("spec:\n" + "  [\n" * 1_200, "65:3"),
])
def test_deep_flow_nesting_is_our_error_whatever_the_parser_allows(
    tmp_path: Path, text: str, where: str
) -> None:
    # libyaml gained a nesting limit of its own (PyYAML 6.0.4) with its own words and column;
    # the same file must give the same located error under every PyYAML the ranges allow.
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    assert _report([path]) == [f"{where}: nesting deeper than 64 levels"]


def test_missing_code_source_file(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(VALID.replace("code: 'print(1)'", "source: snippets/missing.py"))
    assert _report([path]) == [
        "8:24: code source file 'snippets/missing.py': no such file or directory"
    ]


def test_code_source_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "snippets").mkdir()
    path = tmp_path / "spec.yaml"
    path.write_text(VALID.replace("code: 'print(1)'", "source: snippets"))
    assert _report([path]) == [
        "8:24: code source file 'snippets': is a directory, not a spec file"
    ]


def test_same_pipeline_in_two_files(in_tmp: Path) -> None:
    (in_tmp / "a.yaml").write_text(VALID)
    (in_tmp / "b.yaml").write_text(VALID)
    # an absolute path under the working directory is shown relative to it
    result = load([in_tmp])
    assert [str(e) for e in result.errors] == [
        "b.yaml:4:3: pipeline 'demo' in the default project is already defined in a.yaml"
    ]


def test_mangled_examples_never_crash(tmp_path: Path) -> None:
    """Seeded random edits of the example specs: always a report, never an exception."""
    import random

    rng = random.Random(20261124)
    sources = [p.read_bytes() for p in sorted((Path(__file__).parents[2] / "pipelines").glob("*.yaml"))]
    alphabet = b" \n:-[]{},&*!|>'\"#.%@`?\t0123456789abcXYZ"
    path = tmp_path / "f.yaml"
    outcomes = set()
    for _ in range(300):
        text = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(text))
            roll = rng.random()
            if roll < 0.4:
                text[pos] = rng.choice(alphabet)
            elif roll < 0.7:
                del text[pos : pos + rng.randint(1, 20)]
            else:
                start = rng.randrange(len(text))
                text[pos:pos] = text[start : start + rng.randint(1, 40)]
        path.write_bytes(bytes(text))
        result = load([path])
        outcomes.add(result.ok)
        assert all(e.location.line >= 1 and e.location.col >= 1 for e in result.errors)
    assert outcomes == {True, False}


def test_a_file_named_twice_is_read_once(in_tmp: Path) -> None:
    (in_tmp / "a.yaml").write_text(VALID)
    os.symlink("a.yaml", in_tmp / "link.yaml")
    result = load([Path("a.yaml"), Path("./a.yaml"), in_tmp / "a.yaml", Path("link.yaml"), in_tmp])
    assert (result.errors, result.files, [str(s.path) for s in result.specs]) == ([], 1, ["a.yaml"])
    # a missing path given twice is one problem
    assert _report([Path("gone.yaml"), Path("./gone.yaml")]) == ["1:1: no such file or directory"]


def test_a_path_swapped_for_a_fifo_after_the_check_does_not_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race between checking the path and opening it: the opened file is checked again."""
    import threading

    from reconciler.spec.source import SourceDocument, read_bytes

    regular = tmp_path / "regular.yaml"
    regular.write_text(VALID)
    fifo = tmp_path / "swapped.yaml"
    os.mkfifo(fifo)
    real_stat = os.stat
    # the first check sees a regular file, as if the FIFO replaced it just after
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: real_stat(regular if p == fifo else p, *a, **k))
    doc = SourceDocument(path="swapped.yaml")
    outcome: list[bytes | None] = []
    reader = threading.Thread(target=lambda: outcome.append(read_bytes(fifo, doc)), daemon=True)
    reader.start()
    reader.join(timeout=30)
    if reader.is_alive():  # blocked in open(): release it before failing
        os.close(os.open(fifo, os.O_WRONLY))
        pytest.fail("reading a FIFO blocked")
    assert outcome == [None]
    assert [e.message for e in doc.errors] == ["not a regular file"]


@pytest.mark.parametrize(
    ("source", "inside"),
    [
        ("../../code/x.py", True),
        ("../../../outside.py", False),
        ("{tmp}/outside.py", False),  # absolute
        ("{tmp}/repo/code/x.py", True),
        ("../../code/link.py", False),  # a link in the repository to a file outside it
    ],
)
def test_code_source_stays_in_the_repository(tmp_path: Path, source: str, inside: bool) -> None:
    """Code is uploaded and shown in plan diffs: a spec must not read files outside its project."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "deploy" / "pipelines").mkdir(parents=True)
    (repo / "deploy" / "loopform.yaml").write_text("")  # the repository, not this, is the bound
    (repo / "code").mkdir()
    (repo / "code" / "x.py").write_text("print(1)")
    (tmp_path / "outside.py").write_text("TOKEN = 'secret'")
    os.symlink(tmp_path / "outside.py", repo / "code" / "link.py")
    spec = repo / "deploy" / "pipelines" / "spec.yaml"
    source = source.format(tmp=tmp_path)
    spec.write_text(VALID.replace("code: 'print(1)'", f"source: {source}"))
    if inside:
        (loaded,) = load([spec]).specs
        assert loaded.code == {"work": "print(1)"}
    else:
        assert _report([spec]) == [
            f"8:24: code source file '{source}' is outside the project ({repo}); keep code files "
            "in the repository, next to the specs"
        ]


@pytest.mark.parametrize("source", ["../../.git/config", "../../code/../.git/config", "../../.GIT/config",
                                    "../../code/git-link"])
def test_code_source_never_reads_git_files(tmp_path: Path, source: str) -> None:
    """`.git/config` is where actions/checkout leaves the CI token: it is inside the repository, but
    a spec in a pull request must not upload it or print it in the plan."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "config").write_text("[http] extraheader = AUTHORIZATION: basic c2VjcmV0")
    (repo / "code").mkdir()
    os.symlink(repo / ".git" / "config", repo / "code" / "git-link")
    (repo / "deploy" / "pipelines").mkdir(parents=True)
    spec = repo / "deploy" / "pipelines" / "spec.yaml"
    spec.write_text(VALID.replace("code: 'print(1)'", f"source: {source}"))
    assert _report([spec]) == [
        f"8:24: code source file '{source}' is inside a .git directory (git's own files, credentials "
        "included); keep code files in the repository's working tree"
    ]


def test_a_nul_in_a_code_source_is_a_located_error(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(VALID.replace("code: 'print(1)'", 'source: "x\\0.py"'))
    assert _report([spec]) == ["8:24: code source file 'x\\x00.py' is not a file name: it holds a NUL character"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_a_code_source_git_does_not_track_is_a_warning(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "pipelines").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "tracked.py").write_text("print(1)")
    (repo / "local.py").write_text("print(1)")
    subprocess.run(["git", "-C", str(repo), "add", "tracked.py"], check=True)
    spec = repo / "pipelines" / "spec.yaml"
    spec.write_text(VALID.replace("code: 'print(1)'", "source: ../tracked.py"))
    assert _report([spec]) == []
    spec.write_text(VALID.replace("code: 'print(1)'", "source: ../local.py"))
    assert _report([spec]) == [
        "8:24: warning: code source file '../local.py' is not tracked by git: a fresh checkout (CI) does not "
        "have it, and a local file may hold what must not be uploaded; `git add` it"
    ]
    subprocess.run(["git", "-C", str(repo), "add", "local.py"], check=True)
    assert _report([spec]) == []  # the index moved: git is asked again
