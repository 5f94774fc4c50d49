"""Outcomes: how a run ended, ordered from "our fault" to "worst for the target"."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from threadstorm.triage.facts import CrashFacts


class Status(enum.IntEnum):
    """How a run ended.  Ordered: a larger value is a stronger finding.

    ``HARNESS_ERROR`` is threadstorm's own failure: never a finding, always shown.
    ``RAISED``: an operation raised a Python exception on every call (part of the scenario never
    ran); kept, not a crash.  Exceptions on some calls only leave a run ``PASSED``.
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
    """A classified run: its status, a one-line reason, and the parsed crash facts if any.

    ``facts`` are present for findings (hangs, crashes, sanitizer reports): they are parsed once,
    by ``classify``, and every later step reads them from here.
    """

    status: Status
    reason: str
    facts: CrashFacts | None = None

    @property
    def crash(self) -> dict[str, Any]:
        """The facts as JSON (empty without facts): what the store and reports keep."""
        return self.facts.to_json() if self.facts is not None else {}

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.label, "reason": self.reason, "crash": self.crash}
