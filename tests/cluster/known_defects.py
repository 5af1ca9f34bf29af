"""Findings of the whole-install check in the current repository, each a defect to fix.

Each is an expected failure of its own test (strict: when the defect is fixed the test passes,
the suite fails, and the entry here must go). A finding not listed fails `make verify-cluster`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Known:
    id: str
    check: str
    phrases: tuple[str, ...]  # all of them appear in the finding
    reason: str

    def matches(self, check: str, finding: str) -> bool:
        return check == self.check and all(p in finding for p in self.phrases)


KNOWN: list[Known] = []
