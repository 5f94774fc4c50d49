"""Outcomes: how a run ended, ordered from "our fault" to "worst for the target"."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(enum.IntEnum):
    """How a run ended.  Ordered: a larger value is a stronger finding.

    ``HARNESS_ERROR`` is threadstorm's own failure: never a finding, always shown.
    ``RAISED`` is a Python exception in a worker: kept, not a crash.
    """

    HARNESS_ERROR = 0
    PASSED = 1
    RAISED = 2
    HUNG = 3
    CRASHED = 4
    SANITIZER = 5

    @property
    def is_finding(self) -> bool:
        """Whether this outcome makes a bucket (hangs, crashes, sanitizer reports)."""
        return self >= Status.HUNG

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Outcome:
    """A classified run: its status, a one-line reason, and the parsed crash facts if any."""

    status: Status
    reason: str
    crash: dict[str, Any] = field(default_factory=dict)  # parsed facts: kind, assertion, frames...

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.label, "reason": self.reason, "crash": self.crash}
