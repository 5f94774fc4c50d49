"""Merge buckets by native crash site once follow-up has learned it.

A bucket signed by rule 3 (no native frames during the campaign, as on CPython 3.13) names the
crash by how it was reached.  Follow-up takes a gdb backtrace of the bucket's reproducer; the top
normalised frames of its crashing thread (rule 2) are the bucket's *native site*.  Buckets of one
site are one bug and merge: into the bucket whose own signature is that site (kind ``native``),
else into the one with the most findings.

Only buckets that key on frames or Python facts take part (kinds ``native`` and ``python``):
assertions and fatal errors already name their site, and a generic corruption check's backtrace
shows where the corruption was *noticed*, not where it was made.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from threadstorm.bucket.identity import Signature
from threadstorm.bucket.signature import native_frame_names
from threadstorm.store.records import BucketRecord
from threadstorm.triage.parsers import parse_gdb_backtrace

MERGEABLE_KINDS = ("native", "python")


@dataclass(frozen=True)
class PlannedMerge:
    """Fold ``source`` into ``target``: both crash at ``site``."""

    source: str
    target: str
    site: tuple[str, ...]

    @property
    def reason(self) -> str:
        return f"same native crash site: {' < '.join(self.site)}"


def native_site(bucket: BucketRecord) -> tuple[str, ...] | None:
    """The bucket's native crash site: its own frames, else its gdb backtrace's; None if unknown."""
    return site_of(bucket.signature, bucket.backtrace)


def site_of(signature: Signature, backtrace: str | None) -> tuple[str, ...] | None:
    """The native site of a bucket with this signature and (gdb) backtrace, when it has one."""
    if signature.kind not in MERGEABLE_KINDS:
        return None
    if signature.kind == "native":
        return signature.parts[1:]
    return backtrace_site(backtrace)


def backtrace_site(backtrace: str | None) -> tuple[str, ...] | None:
    """The top normalised frames of a gdb backtrace's crashing thread (rule 2); None if none."""
    if not backtrace:
        return None
    parsed = parse_gdb_backtrace(backtrace)
    crashing = parsed.crashing if parsed is not None else None
    if crashing is None:
        return None
    return native_frame_names(crashing.frames) or None


def plan_merges(buckets: Sequence[BucketRecord]) -> list[PlannedMerge]:
    """The merges that make one bucket of each native site."""
    by_site: dict[tuple[str, ...], list[BucketRecord]] = defaultdict(list)
    for bucket in buckets:
        site = native_site(bucket)
        if site:
            by_site[site].append(bucket)
    planned: list[PlannedMerge] = []
    for site, group in by_site.items():
        if len(group) < 2:
            continue
        target = max(group, key=lambda b: (b.signature.kind == "native", b.count, -b.first_seen))
        planned += [PlannedMerge(b.key, target.key, site) for b in group if b is not target]
    return planned
