"""The plain records the store hands back: frozen values, no database handles inside.

``threadstorm.store.db`` writes and reads them; reports, ``repro``, ``minimise`` and ``check``
consume them.  Each record says what one row (or one group of columns) of the store means.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from threadstorm.bucket.identity import Signature
from threadstorm.rate import Rate
from threadstorm.scenario.model import Scenario
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Status

__all__ = [
    "CONTRACT_LABELS",
    "IN_CONTRACT",
    "OUTSIDE_CONTRACT",
    "BucketRecord",
    "CampaignRecord",
    "CoverageEntry",
    "CrashRecord",
    "Discovery",
    "Finding",
    "Minimisation",
    "Rate",
    "Reproduction",
    "RunCount",
    "Variant",
    "status_from_label",
]

IN_CONTRACT = "in-contract"
OUTSIDE_CONTRACT = "outside-contract"
CONTRACT_LABELS = (IN_CONTRACT, OUTSIDE_CONTRACT)


def status_from_label(label: str) -> Status:
    """``crashed`` -> ``Status.CRASHED`` (the inverse of ``Status.label``)."""
    return Status[label.upper()]


@dataclass(frozen=True)
class Reproduction:
    """A measured reproduction rate: the bucket's scenario rerun ``rate.runs`` times."""

    rate: Rate
    median_time_to_crash_s: float | None


@dataclass(frozen=True)
class Minimisation:
    """The minimiser's result: the reduced scenario, its size key and rate before and after."""

    scenario: Scenario
    before_size: tuple[int, ...]
    after_size: tuple[int, ...]
    before_rate: Rate | None
    after_rate: Rate | None


@dataclass(frozen=True)
class Variant:
    """One sibling type tried by variant search, and what happened to it."""

    subject: str  # the sibling tried, e.g. ``collections.deque`` or ``staticmethod``
    crashed: bool
    crashes: int = 0
    runs: int = 0
    bucket: str | None = None  # key of the bucket its crash landed in, when it crashed
    note: str = ""  # e.g. "could not build an instance"

    @property
    def rate(self) -> Rate:
        return Rate(self.crashes, self.runs)

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "crashed": self.crashed,
            "crashes": self.crashes,
            "runs": self.runs,
            "bucket": self.bucket,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Variant:
        bucket = doc.get("bucket")
        return cls(
            subject=str(doc["subject"]),
            crashed=bool(doc["crashed"]),
            crashes=int(doc.get("crashes", 0)),
            runs=int(doc.get("runs", 0)),
            bucket=None if bucket is None else str(bucket),
            note=str(doc.get("note", "")),
        )


@dataclass(frozen=True)
class Confirmation:
    """A sanitizer finding's scenario replayed on the plain debug build of the same version.

    A race that ThreadSanitizer sees may or may not crash a build without it; ``crashes`` of
    ``runs`` did, the first of them with signature ``signature`` (its title and key).  ``error``
    says why nothing could be replayed (say, an extension built for the TSan target only).
    """

    python: str
    runs: int
    crashes: int
    signature: str = ""  # the first crash's signature title
    key: str = ""  # and its bucket key, as a campaign on that build would file it
    error: str = ""

    @property
    def confirmed(self) -> bool:
        return self.crashes > 0

    @property
    def text(self) -> str:
        """One line: ``confirmed crash: 3/10 runs crashed on PATH (assertion: ...)``."""
        if self.error:
            return f"not replayed on {self.python}: {self.error}"
        if not self.crashes:
            return f"no crash in {self.runs} runs on {self.python}"
        return (
            f"confirmed crash: {self.crashes}/{self.runs} runs crashed on {self.python} "
            f"({self.signature}, bucket {self.key})"
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Any) -> Confirmation | None:
        if not isinstance(doc, dict):
            return None
        known = {name: doc[name] for name in cls.__dataclass_fields__ if name in doc}
        return cls(**known)


@dataclass(frozen=True)
class BucketRecord:
    """One bucket: one signature, one bug, with everything learned about it so far."""

    key: str
    signature: Signature
    status: Status
    contract: str
    contract_reason: str
    count: int
    first_seen: float
    last_seen: float
    smallest_scenario: Scenario
    smallest_size: tuple[int, ...]
    representative_crash: int  # crash id of the smallest scenario's crash
    reproduction: Reproduction | None = None
    minimisation: Minimisation | None = None
    backtrace: str | None = None
    variants: tuple[Variant, ...] = ()
    repro_script: str | None = None
    confirmation: Confirmation | None = None

    @property
    def in_contract(self) -> bool:
        return self.contract == IN_CONTRACT

    @property
    def best_scenario(self) -> Scenario:
        """The minimised scenario when there is one, else the smallest seen."""
        return self.minimisation.scenario if self.minimisation else self.smallest_scenario


@dataclass(frozen=True)
class CrashRecord:
    """One observed finding (crash, hang or sanitizer report) with its raw evidence."""

    id: int
    bucket_key: str
    time: float
    scenario: Scenario
    evidence: Evidence
    outcome: dict[str, Any]  # ``Outcome.to_json()``: status label, reason, parsed crash facts


@dataclass(frozen=True)
class CampaignRecord:
    """The campaign row: configuration (with the target's facts) and its running totals."""

    config: dict[str, Any]
    started_at: float
    updated_at: float
    duration_s: float
    runs: int
    status: str

    @property
    def runs_per_second(self) -> float:
        return self.runs / self.duration_s if self.duration_s > 0 else 0.0


@dataclass(frozen=True)
class RunCount:
    """How many runs of one family, on one subject type, ended with one status."""

    status: Status
    family: str
    subject: str
    count: int


@dataclass(frozen=True)
class Discovery:
    """A new bucket appeared at ``time`` after ``runs`` runs."""

    time: float
    bucket_key: str
    runs: int


@dataclass(frozen=True)
class CoverageEntry:
    """One public callable or descriptor of a target module, and how far the campaign got."""

    module: str
    name: str
    kind: str  # class, function, method, descriptor...
    reachable: bool  # an instance or a call could be made
    exercised: bool  # at least two threads used it on one object at once
    reason: str = ""  # why it was never reached (could not build, denied, always raised)


class Finding(NamedTuple):
    """What ``Store.record_finding`` learned; unpacks as ``(bucket_key, is_new)``."""

    bucket_key: str
    is_new: bool
