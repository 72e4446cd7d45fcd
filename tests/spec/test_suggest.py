"""Did-you-mean hints stay cheap on generated specs with thousands of names."""

from __future__ import annotations

from pathlib import Path

from reconciler.spec import load
from reconciler.spec.suggest import Hints


def test_hints_until_the_budget_is_spent() -> None:
    hints = Hints(budget=5)
    assert hints.hint("wrok", ["work", "review", "src"]) == " (did you mean 'work'?)"
    assert hints.hint("nothing-alike", ["work"]) == ""  # spends 1: 1 left
    assert hints.hint("wrok", ["work", "review"]) == ""  # would need 2
    assert hints.closest("work", ["work"]) is None  # never the word itself (and 1 is affordable)


def test_thousands_of_unknown_nodes_are_all_reported(in_tmp: Path) -> None:
    # difflib over 3000 keys for each of 6000 unknown names took over a minute before the budget
    nodes = "".join(f"    n{i}: {{type: merge}}\n" for i in range(3000))
    conns = "".join(f"    - {{from: n{i}, to: [n{i + 1}, x{i}, y{i}]}}\n" for i in range(2999))
    (in_tmp / "gen.yaml").write_text(
        "apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {name: gen}\n"
        f"spec:\n  root: n0\n  nodes:\n{nodes}  connections:\n{conns}"
    )
    errors = load([Path("gen.yaml")]).errors
    assert len(errors) == 5998
    assert errors[0].message == "unknown node 'x0'"
    assert all(e.message.startswith("unknown node") for e in errors)


def test_an_ambiguous_root_lists_a_few_candidates(in_tmp: Path) -> None:
    nodes = "".join(f"    n{i}: {{type: merge}}\n" for i in range(50))
    (in_tmp / "many.yaml").write_text(
        "apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {name: many}\n" f"spec:\n  nodes:\n{nodes}"
    )
    (error,) = load([Path("many.yaml")]).errors
    assert error.message == (
        "ambiguous root: 50 nodes have no incoming connection (n0, n1, n2, n3, n4, n5, n6, n7, n8, "
        "n9, and 40 more); set `spec.root` to one of them"
    )
