"""The report model: everything a report says, extracted once from a store as plain data.

Extract, then render: ``build_report(store)`` reads the store and makes a ``Report``; the
renderers (``text``, ``markdown``, ``json_report``, ``html_report``, ``junit``, ``sarif``) only
turn that value into their format and never open the store.  Buckets come in-contract first,
then by count.

The campaign's configuration is read for these keys, all optional: ``target`` (the probe's facts:
``executable``, ``version``, ``free_threaded``, ``gil_enabled``, ``debug``, ``sanitizer``,
``config_args``), ``modules``, ``seed``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from threadstorm.bucket.identity import Signature
from threadstorm.bucket.signature import SANITIZER_RUNTIME
from threadstorm.report.describe import scenario_lines, subject_of
from threadstorm.scenario.model import Scenario
from threadstorm.store.db import Store
from threadstorm.store.records import (
    IN_CONTRACT,
    BucketRecord,
    CampaignRecord,
    Confirmation,
    CoverageEntry,
    Minimisation,
    Reproduction,
    RunCount,
    Variant,
)
from threadstorm.target.facts import TargetFacts
from threadstorm.triage.outcome import Status
from threadstorm.triage.parsers import SanitizerStack

CRASH_OUTPUT_LINES = 60
_BUCKET_KEY = re.compile(r"[0-9a-f]{12}")  # a signature key, as bucket ids are


@dataclass(frozen=True)
class CampaignSummary:
    """The campaign's facts and totals."""

    folder: str
    status: str
    started_at: float
    duration_s: float
    runs: int
    runs_per_second: float
    outcomes: tuple[tuple[str, int], ...]  # (status label, runs) in Status order, harness last
    modules: tuple[str, ...]
    seed: int | None
    target: TargetFacts
    families: tuple[tuple[str, int], ...] = ()  # (family, runs), most runs first

    def family_shares(self) -> dict[str, dict[str, float]]:
        """Runs and share of all runs per scenario family: where the campaign's time went."""
        total = sum(runs for _, runs in self.families) or 1
        return {
            family: {"runs": runs, "share": round(runs / total, 4)}
            for family, runs in self.families
        }


@dataclass(frozen=True)
class SanitizerStackText:
    """One stack of a sanitizer report, as the report shows it: its heading and its frames."""

    title: str  # ``Write of size 8 at 0x... by thread T3``
    frames: tuple[str, ...]  # ``Tally_add Objects/tally.c:31``, innermost first
    file: str | None = None  # the innermost frame's source file and line, when known
    line: int | None = None
    access: bool = False  # a memory access (a side of a race), not an allocation or a thread


def sanitizer_text(stacks: tuple[SanitizerStackText, ...]) -> str:
    """The stacks as plain text, one heading and its indented frames after another."""
    return "\n\n".join(
        "\n".join([stack.title + ":", *(f"  #{n} {frame}" for n, frame in enumerate(stack.frames))])
        for stack in stacks
    )


def sanitizer_stacks(crash: Mapping[str, Any], limit: int = 12) -> tuple[SanitizerStackText, ...]:
    """The access stacks of the sanitizer report stored with a finding (its crash facts).

    Frames inside the sanitizer runtime are left out; each stack keeps ``limit`` frames.
    """
    report = crash.get("sanitizer") or {}
    stacks = []
    for stack in report.get("stacks") or ():
        title = str(stack.get("title", ""))
        frames = [
            frame
            for frame in stack.get("frames") or ()
            if not any(
                part in f"{frame.get('file') or ''} {frame.get('library') or ''}"
                for part in SANITIZER_RUNTIME
            )
        ]
        if not frames:
            continue
        lines = tuple(_frame_text(frame) for frame in frames[:limit])
        top = frames[0]
        access = SanitizerStack(title, ()).is_access
        stacks.append(SanitizerStackText(title, lines, top.get("file"), top.get("line"), access))
    return tuple(stacks)


def _frame_text(frame: Mapping[str, Any]) -> str:
    where = f" {frame['file']}:{frame['line']}" if frame.get("file") and frame.get("line") else ""
    return f"{frame.get('function') or '??'}{where}"


@dataclass(frozen=True)
class RerunEnding:
    """How some of a bucket's reruns ended that did not end in the bucket."""

    label: str  # "bucket KEY (TITLE)", "another crash (signature KEY)", or an outcome ("passed")
    runs: int
    finding: bool  # another bucket's crash or hang, or a signature no bucket holds


@dataclass(frozen=True)
class BucketReport:
    """One bucket, with everything needed to file it as a bug report on its own."""

    id: str
    status: str  # crashed, hung or sanitizer
    title: str
    signature: Signature
    count: int
    contract: str
    contract_reason: str
    first_seen: float  # epoch seconds
    last_seen: float
    first_seen_s: float  # seconds after the campaign started
    last_seen_s: float
    reproduction: Reproduction | None
    reason: str  # the representative crash's one-line outcome reason
    signal: str | None
    family: str
    subject: str
    scenario: Scenario  # the smallest seen
    scenario_lines: tuple[str, ...]
    size: tuple[int, ...]
    minimisation: Minimisation | None
    backtrace: str | None  # symbolised native backtrace when one was taken
    crash_output: str  # the tail of the representative crash's raw stderr
    # the representative's sanitizer report, stack by stack (a race: both accesses and more)
    sanitizer_stacks: tuple[SanitizerStackText, ...]
    confirmation: Confirmation | None  # a sanitizer finding replayed on the plain debug build
    variants: tuple[Variant, ...]
    repro_script: str | None
    target: TargetFacts
    folder: str
    # how the reruns that did not end in this bucket ended, most first: the same race often
    # dies at a sibling site, and so may the script
    rerun_endings: tuple[RerunEnding, ...] = ()

    @property
    def in_contract(self) -> bool:
        return self.contract == IN_CONTRACT

    @property
    def sanitizer_report(self) -> str:
        """The sanitizer report's stacks as text ("" for crashes and hangs)."""
        return sanitizer_text(self.sanitizer_stacks)

    @property
    def siblings_affected(self) -> tuple[Variant, ...]:
        return tuple(variant for variant in self.variants if variant.crashed)

    @property
    def siblings_clean(self) -> tuple[Variant, ...]:
        return tuple(variant for variant in self.variants if not variant.crashed)

    @property
    def outcome_text(self) -> str:
        """The outcome's reason, with the signal when the reason does not name it."""
        if self.status == "crashed" and self.signal and self.signal not in self.reason:
            return f"{self.reason} ({self.signal})" if self.reason else self.signal
        return self.reason or self.status


def variant_text(variant: Variant, own_bucket: str = "", quote: str = "") -> str:
    """``collections.deque: crashed in 3/10 (30 %), same bucket`` or ``tuple: no crash in 10 runs``.

    ``quote`` wraps the type's name (a backtick for Markdown).
    """
    name = f"{quote}{variant.subject}{quote}"
    if not variant.crashed:
        text = f"{name}: no crash in {variant.runs} runs"
    else:
        text = f"{name}: crashed in {variant.rate.text}"
        if variant.bucket:
            text += (
                ", same bucket" if variant.bucket == own_bucket else f", bucket {variant.bucket}"
            )
    return text + (f" ({variant.note})" if variant.note else "")


@dataclass(frozen=True)
class ModuleCoverage:
    """How much of one module's public surface the campaign reached."""

    module: str
    total: int
    reachable: int
    exercised: int
    never_reached: tuple[tuple[str, str], ...]  # (name, why) for what was never exercised

    @property
    def of_total(self) -> float:
        """Exercised items as a share of everything the module has (the honest figure)."""
        return self.exercised / self.total if self.total else 0.0

    @property
    def of_reachable(self) -> float:
        """Exercised items as a share of those discovery could reach."""
        return self.exercised / self.reachable if self.reachable else 0.0


@dataclass(frozen=True)
class CoverageReason:
    """One reason items were never exercised, how many it covers, and a few of them."""

    reason: str
    count: int
    examples: tuple[str, ...]


def coverage_reasons(
    coverage: tuple[ModuleCoverage, ...], examples: int = 3
) -> tuple[CoverageReason, ...]:
    """Every reason for an item not exercised, most items first (then by reason)."""
    found: dict[str, list[str]] = {}
    for module in coverage:
        for name, why in module.never_reached:
            found.setdefault(why, []).append(name)
    ordered = sorted(found.items(), key=lambda pair: (-len(pair[1]), pair[0]))
    return tuple(CoverageReason(why, len(names), tuple(names[:examples])) for why, names in ordered)


@dataclass(frozen=True)
class DiscoveryPoint:
    """The ``number``-th bucket appeared ``offset_s`` seconds into the campaign."""

    offset_s: float
    bucket_id: str
    runs: int
    number: int


@dataclass(frozen=True)
class MatrixCell:
    """Outcomes of one family's runs on one subject type."""

    subject: str
    family: str
    counts: tuple[tuple[str, int], ...]  # (status label, runs), strongest first

    @property
    def worst(self) -> str:
        return self.counts[0][0] if self.counts else "none"

    @property
    def runs(self) -> int:
        return sum(count for _, count in self.counts)


@dataclass(frozen=True)
class OutcomeMatrix:
    """Types by scenario family, with the outcomes of their runs."""

    subjects: tuple[str, ...]
    families: tuple[str, ...]
    cells: tuple[MatrixCell, ...]

    def cell(self, subject: str, family: str) -> MatrixCell | None:
        for cell in self.cells:
            if cell.subject == subject and cell.family == family:
                return cell
        return None


@dataclass(frozen=True)
class Report:
    """One campaign's report."""

    campaign: CampaignSummary
    buckets: tuple[BucketReport, ...]
    coverage: tuple[ModuleCoverage, ...]
    weights: Mapping[str, Any] = field(default_factory=dict)
    discoveries: tuple[DiscoveryPoint, ...] = ()
    matrix: OutcomeMatrix = OutcomeMatrix((), (), ())

    @property
    def in_contract(self) -> tuple[BucketReport, ...]:
        return tuple(bucket for bucket in self.buckets if bucket.in_contract)

    @property
    def outside_contract(self) -> tuple[BucketReport, ...]:
        return tuple(bucket for bucket in self.buckets if not bucket.in_contract)

    def bucket(self, bucket_id: str) -> BucketReport:
        """The bucket with this full id; KeyError if none."""
        for bucket in self.buckets:
            if bucket.id == bucket_id:
                return bucket
        raise KeyError(bucket_id)


# ---------------------------------------------------------------------- extraction


def build_report(store: Store) -> Report:
    """Read everything a report needs from ``store``."""
    record = store.campaign()
    campaign = _campaign(store, record)
    records = store.buckets()
    titles = {bucket.key: bucket.signature.title for bucket in records}
    buckets = tuple(_bucket(store, bucket, campaign, titles) for bucket in records)
    return Report(
        campaign=campaign,
        buckets=buckets,
        coverage=coverage_by_module(store.coverage()),
        weights=store.weights(),
        discoveries=tuple(
            DiscoveryPoint(found.time - record.started_at, found.bucket_key, found.runs, number)
            for number, found in enumerate(store.discoveries(), start=1)
        ),
        matrix=outcome_matrix(store.run_counts()),
    )


def _campaign(store: Store, record: CampaignRecord) -> CampaignSummary:
    config = record.config
    per_status: dict[Status, int] = {}
    per_family: dict[str, int] = {}
    for row in store.run_counts():
        per_status[row.status] = per_status.get(row.status, 0) + row.count
        per_family[row.family] = per_family.get(row.family, 0) + row.count
    seed = config.get("seed")
    return CampaignSummary(
        folder=str(store.folder),
        status=record.status,
        started_at=record.started_at,
        duration_s=record.duration_s,
        runs=record.runs,
        runs_per_second=record.runs_per_second,
        outcomes=tuple(
            (status.label, per_status[status])
            for status in sorted(per_status, key=lambda s: (s is Status.HARNESS_ERROR, s))
        ),
        modules=tuple(str(name) for name in config.get("modules", ())),
        seed=seed if isinstance(seed, int) else None,
        target=TargetFacts.from_probe(config.get("target") or {}),
        families=tuple(sorted(per_family.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def _bucket(
    store: Store, bucket: BucketRecord, campaign: CampaignSummary, titles: Mapping[str, str]
) -> BucketReport:
    crash = store.crash(bucket.representative_crash)
    stderr = crash.evidence.stderr_text.rstrip().splitlines()[-CRASH_OUTPUT_LINES:]
    return BucketReport(
        id=bucket.key,
        status=bucket.status.label,
        title=bucket.signature.title,
        signature=bucket.signature,
        count=bucket.count,
        contract=bucket.contract,
        contract_reason=bucket.contract_reason,
        first_seen=bucket.first_seen,
        last_seen=bucket.last_seen,
        first_seen_s=bucket.first_seen - campaign.started_at,
        last_seen_s=bucket.last_seen - campaign.started_at,
        reproduction=bucket.reproduction,
        reason=str(crash.outcome.get("reason", "")),
        signal=crash.evidence.signal_name,
        family=bucket.smallest_scenario.family,
        subject=subject_of(bucket.smallest_scenario),
        scenario=bucket.smallest_scenario,
        scenario_lines=scenario_lines(bucket.smallest_scenario),
        size=bucket.smallest_size,
        minimisation=bucket.minimisation,
        backtrace=bucket.backtrace or crash.evidence.backtrace,
        crash_output="\n".join(stderr),
        sanitizer_stacks=sanitizer_stacks(crash.outcome.get("crash") or {}),
        confirmation=bucket.confirmation,
        variants=bucket.variants,
        repro_script=bucket.repro_script,
        target=campaign.target,
        folder=campaign.folder,
        rerun_endings=rerun_endings(bucket.reproduction, titles),
    )


def rerun_endings(
    reproduction: Reproduction | None, titles: Mapping[str, str]
) -> tuple[RerunEnding, ...]:
    """How a bucket's other reruns ended, most first: another bucket of the campaign (by key and
    title), another signature no bucket holds, or an outcome (``passed``)."""
    if reproduction is None:
        return ()
    endings = []
    for ending, runs in reproduction.rate.others.items():
        if ending in titles:
            endings.append(RerunEnding(f"bucket {ending} ({titles[ending]})", runs, finding=True))
        elif _BUCKET_KEY.fullmatch(ending):
            endings.append(RerunEnding(f"another crash (signature {ending})", runs, finding=True))
        else:
            endings.append(RerunEnding(ending, runs, finding=False))
    return tuple(sorted(endings, key=lambda ending: (-ending.runs, ending.label)))


def coverage_by_module(entries: list[CoverageEntry]) -> tuple[ModuleCoverage, ...]:
    """Group coverage facts per module."""
    modules: dict[str, list[CoverageEntry]] = {}
    for entry in entries:
        modules.setdefault(entry.module, []).append(entry)
    return tuple(
        ModuleCoverage(
            module=module,
            total=len(found),
            reachable=sum(entry.reachable for entry in found),
            exercised=sum(entry.exercised for entry in found),
            never_reached=tuple(
                (entry.name, entry.reason or "not reached")
                for entry in found
                if not entry.exercised
            ),
        )
        for module, found in sorted(modules.items())
    )


def outcome_matrix(counts: list[RunCount]) -> OutcomeMatrix:
    """Types (rows) by families (columns) from the run counters."""
    cells: dict[tuple[str, str], dict[Status, int]] = {}
    for row in counts:
        slot = cells.setdefault((row.subject or "(unspecified)", row.family), {})
        slot[row.status] = slot.get(row.status, 0) + row.count
    return OutcomeMatrix(
        subjects=tuple(sorted({subject for subject, _ in cells})),
        families=tuple(sorted({family for _, family in cells})),
        cells=tuple(
            MatrixCell(
                subject,
                family,
                tuple((status.label, n) for status, n in sorted(found.items(), reverse=True)),
            )
            for (subject, family), found in sorted(cells.items())
        ),
    )


def flat_weights(weights: Mapping[str, Any], prefix: str = "") -> list[tuple[str, float]]:
    """Numeric weights as ``(dotted.name, value)`` pairs, nested mappings flattened, sorted."""
    found: list[tuple[str, float]] = []
    for name, value in weights.items():
        if isinstance(value, Mapping):
            found += flat_weights(value, f"{prefix}{name}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found.append((f"{prefix}{name}", float(value)))
    return sorted(found)
