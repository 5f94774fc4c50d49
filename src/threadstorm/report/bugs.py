"""Bugs above buckets: what a reader files, folded from the buckets that are its evidence.

- An in-contract **bug** is every in-contract bucket with one crash site: the failed assertion or
  fatal error, else the native frames (the bucket's own, or its gdb backtrace's), else the
  bucket's own signature (a site not learned yet).  A generic corruption bucket's backtrace
  shows where a reference-count or allocator check *noticed* the damage; buckets are never
  merged by it (``bucket.merge``), but those noticed at one site (its top frames, e.g.
  ``PyByteArray_Resize < bytearray_insert_impl < bytearray_insert``: one resize racing many
  operations) are listed as one bug, each bucket kept as its evidence.
- Outside-contract findings fold into one **entry per (contract rule, C function)** with the
  types affected: a hundred concurrent-``__init__`` buckets over exception classes and
  containers are one line per function that crashed, not a hundred reports.  The function is
  the top of the native site; where no site was learned, the member the rule is about
  (``__init__``), so unknown sites of one rule fold together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from threadstorm.bucket.identity import Signature
from threadstorm.bucket.merge import backtrace_site, site_of
from threadstorm.report.model import BucketReport

_METHOD = re.compile(r"^[\w.]+\.(\w+)\(\)$")
_FUNCTION = re.compile(r"^(\w+)\(.*\)$")


@dataclass(frozen=True)
class Bug:
    """One in-contract bug and the buckets that are its evidence, most frequent first."""

    site: str
    buckets: tuple[BucketReport, ...]

    @property
    def id(self) -> str:
        return self.buckets[0].id

    @property
    def count(self) -> int:
        return sum(bucket.count for bucket in self.buckets)

    @property
    def status(self) -> str:
        return self.buckets[0].status

    @property
    def best(self) -> BucketReport:
        """The bucket whose reproducer crashes most often (the one to file)."""
        return max(
            self.buckets,
            key=lambda b: b.reproduction.rate.fraction if b.reproduction else -1.0,
        )


@dataclass(frozen=True)
class OutsideEntry:
    """Outside-contract findings of one rule crashing in one function, over several types."""

    rule: str
    function: str
    types: tuple[str, ...]
    buckets: tuple[str, ...]
    count: int


def bugs(buckets: Sequence[BucketReport]) -> tuple[Bug, ...]:
    """The in-contract bugs, most findings first."""
    groups: dict[str, list[BucketReport]] = {}
    for bucket in buckets:
        if bucket.in_contract:
            groups.setdefault(crash_site(bucket.signature, bucket.backtrace), []).append(bucket)
    found = [
        Bug(site, tuple(sorted(group, key=lambda b: -b.count))) for site, group in groups.items()
    ]
    return tuple(sorted(found, key=lambda bug: (-bug.count, bug.id)))


def outside_entries(buckets: Sequence[BucketReport]) -> tuple[OutsideEntry, ...]:
    """Outside-contract buckets, one entry per (rule, function), most findings first."""
    groups: dict[tuple[str, str], list[BucketReport]] = {}
    for bucket in buckets:
        if not bucket.in_contract:
            rule = bucket.contract_reason.split(":", 1)[0].strip() or "outside the contract"
            groups.setdefault((rule, c_function(bucket)), []).append(bucket)
    entries = [
        OutsideEntry(
            rule=rule,
            function=function,
            types=tuple(sorted({bucket.subject for bucket in group})),
            buckets=tuple(bucket.id for bucket in group),
            count=sum(bucket.count for bucket in group),
        )
        for (rule, function), group in groups.items()
    ]
    return tuple(sorted(entries, key=lambda entry: (-entry.count, entry.rule, entry.function)))


def crash_site(signature: Signature, backtrace: str | None) -> str:
    """One line naming where a bucket's crash is (see the module docstring)."""
    parts = signature.parts
    if signature.kind == "assertion" and len(parts) == 3:
        return f"{parts[1]} ({parts[0]}): {parts[2]}"
    if signature.kind in ("precondition", "fatal") and len(parts) >= 2:
        return f"{parts[0]}: {parts[1]}"
    site = site_of(signature, backtrace)
    if site:
        return " < ".join(site)
    noticed = backtrace_site(backtrace) if signature.kind == "corruption" else None
    if noticed:
        return f"corruption noticed in {' < '.join(noticed)}"
    return signature.title


def c_function(bucket: BucketReport) -> str:
    """The C function an outside-contract crash happened in, else the member its rule names."""
    signature = bucket.signature
    if signature.kind == "assertion" and len(signature.parts) == 3:
        return signature.parts[1]
    if signature.kind in ("precondition", "fatal") and signature.parts:
        return signature.parts[0]
    site = site_of(signature, bucket.backtrace)
    if site:
        return site[0]
    members = sorted(filter(None, (_member(label) for label in _operations(signature))))
    return f"{', '.join(members)} (site not learned)" if members else "site not learned"


def _member(label: str) -> str | None:
    """``__init__`` of ``builtins.ImportError.__init__()``, ``copy`` of ``copy(x.Y)``."""
    method = _METHOD.match(label)
    if method is not None:
        return method.group(1)
    function = _FUNCTION.match(label)
    return function.group(1) if function is not None else None


def _operations(signature: Signature) -> list[str]:
    """The operation labels in a rule-3 signature (``op: x.f()``, ``ops: x.f(); y.g()``)."""
    found: list[str] = []
    for part in signature.parts:
        for prefix in ("op: ", "ops: "):
            if part.startswith(prefix):
                found += [label.strip() for label in part[len(prefix) :].split(";")]
    return found
