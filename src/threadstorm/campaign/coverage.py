"""Surface coverage: which public callables and descriptors were exercised concurrently.

A member counts as exercised when a run that got past setup had at least two threads working on
the object while one of them called that member, and the member did not raise on every call.
A module-level function counts when a run called it on a shared object from two or more
threads.  Members the campaign could never reach keep the reason the surface gave (no instance
could be built, denied, always raised in discovery); reachable ones never exercised say why.
"""

from __future__ import annotations

from dataclasses import dataclass

from threadstorm.generate.families import SubjectLike
from threadstorm.generate.surface import Surface
from threadstorm.scenario.model import Operation, Scenario
from threadstorm.store.records import CoverageEntry
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Status


@dataclass
class _Member:
    module: str
    name: str
    kind: str
    reachable: bool
    reason: str
    exercised: bool = False
    raised_only: bool = False


class CoverageTracker:
    """Tracks, per public item of the target modules, whether it was stormed."""

    def __init__(self, surface: Surface) -> None:
        self.members: dict[str, _Member] = {}
        for module in surface.modules:
            for item in module.items:
                self.members[item.name] = _Member(
                    module.name, item.name, item.kind, item.reachable, item.reason or ""
                )
        self.owners = {
            (subject.type, member.name): f"{member.owner}.{member.name}"
            for subject in surface.subjects
            for member in subject.members
        }

    def observe(
        self, scenario: Scenario, subject: SubjectLike, evidence: Evidence, status: Status
    ) -> None:
        """Credit the members a finished run exercised concurrently."""
        if status == Status.HARNESS_ERROR or scenario.thread_count < 2:
            return
        raised = _always_raised(scenario, evidence)
        for number, plan in enumerate(scenario.threads):
            for index, op in enumerate(plan.operations):
                member = self.members.get(self.qualified_name(op, subject.type))
                if member is None:
                    continue
                if (number, index) in raised:
                    member.raised_only = member.raised_only or not member.exercised
                    continue
                member.exercised = True
                member.raised_only = False

    def qualified_name(self, op: Operation, type_name: str) -> str:
        """The surface name an operation exercises: ``module.Owner.member`` or the function."""
        if op.kind == "function":
            return op.name
        return self.owners.get((type_name, op.name), f"{type_name}.{op.name}")

    def entries(self) -> list[CoverageEntry]:
        """Coverage facts for the store."""
        result = []
        for member in self.members.values():
            reason = member.reason
            if member.reachable and not member.exercised:
                reason = "always raised" if member.raised_only else reason or "not drawn yet"
            result.append(
                CoverageEntry(
                    module=member.module,
                    name=member.name,
                    kind=member.kind,
                    reachable=member.reachable,
                    exercised=member.exercised,
                    reason="" if member.exercised else reason,
                )
            )
        return result


def _always_raised(scenario: Scenario, evidence: Evidence) -> set[tuple[int, int]]:
    """(thread, op) pairs whose every call raised, from the child's exception log."""
    done = evidence.message("done")
    if done is None:
        return set()
    calls = scenario.rounds * scenario.iterations
    return {
        (int(entry["thread"]), int(entry["op"]))
        for entry in done.get("exceptions", [])
        if int(entry.get("count", 0)) >= calls
    }
