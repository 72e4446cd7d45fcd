"""Did-you-mean hints, with bounded work.

difflib compares a word with every candidate, so a spec with thousands of unknown names and
thousands of candidates (a generated or hostile file) would take minutes. `Hints` spends at most a
fixed number of comparisons, shared by every hint it gives; past that it gives no more (the errors
themselves are still reported, only without "did you mean").
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

COMPARISONS = 100_000  # a few tenths of a second of difflib


class Hints:
    """Did-you-mean hints drawn from one budget of comparisons (use one per spec)."""

    def __init__(self, budget: int = COMPARISONS) -> None:
        self.budget = budget

    def closest(self, word: object, choices: Sequence[str]) -> str | None:
        """The choice closest to `word` (never `word` itself), or None."""
        if not isinstance(word, str) or len(choices) > self.budget:
            return None
        self.budget -= len(choices)
        close = difflib.get_close_matches(word, [c for c in choices if c != word], n=1)
        return close[0] if close else None

    def hint(self, word: object, choices: Sequence[str]) -> str:
        """` (did you mean 'x'?)`, or an empty string."""
        match = self.closest(word, choices)
        return f" (did you mean '{match}'?)" if match else ""
