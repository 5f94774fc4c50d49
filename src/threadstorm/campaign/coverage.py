"""Surface coverage: which public callables and descriptors were exercised concurrently.

Only runs that got past setup, with two threads or more on the shared object, count; an
operation that raised on every call (or whose thread could not even bind it) counts for nothing.
Within such a run:

- a member item (``module.Owner.member``) is exercised when a thread read or called that member
  of the shared object; every item naming the same (owner, member) is credited, so
  ``types.FunctionType.__call__`` and ``builtins.function.__call__`` go together;
- a function item is exercised when a thread called it (a ``function`` operation: the shared
  object is its first argument; or, for a function that takes nothing, ``__call__`` on the
  function itself shared as ``Ref(path)``); a class called that way counts too, with its
  aliases (``typing.Text`` with ``builtins.str``);
- a class item is also exercised when the shared object is an instance of it and at least one
  operation on it succeeded: two threads stormed an instance of the class.

A run that ended without its ``done`` message (a crash, a hang) credits only the operations its
threads were in at the end.  Items the campaign could never reach keep the reason the surface
gave (no instance could be built, denied, always raised in discovery); reachable ones never
exercised say why ("always raised", "not drawn yet").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from threadstorm.generate.families import SubjectLike
from threadstorm.generate.surface import Surface
from threadstorm.scenario.model import Operation, Ref, Scenario
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
    """Tracks, per public item of the target modules, whether it was stormed.

    ``observe`` runs on the campaign's judging thread and ``exercised_since`` on the generator's
    (a worker's): both take the tracker's lock.
    """

    def __init__(self, surface: Surface) -> None:
        self.surface = surface
        self.members: dict[str, _Member] = {}
        self.aliases: dict[str, list[str]] = {}  # item name -> every item that is the same thing
        by_owner: dict[tuple[str, str | None], list[str]] = {}
        for module in surface.modules:
            for item in module.items:
                self.members[item.name] = _Member(
                    module.name, item.name, item.kind, item.reachable, item.reason or ""
                )
                if item.owner is not None and (item.kind == "class" or item.member):
                    by_owner.setdefault((item.owner, item.member), []).append(item.name)
        for names in by_owner.values():
            for name in names:
                self.aliases[name] = names
        self.classes = {
            owner: names for (owner, member), names in by_owner.items() if member is None
        }
        self.owners = {
            (subject.type, member.name): f"{member.owner}.{member.name}"
            for subject in surface.subjects
            for member in subject.members
        }
        self.member_items = {
            f"{owner}.{member}": names
            for (owner, member), names in by_owner.items()
            if member is not None
        }
        self._log: list[str] = []
        self._lock = threading.Lock()

    def observe(
        self, scenario: Scenario, subject: SubjectLike, evidence: Evidence, status: Status
    ) -> None:
        """Credit the items a finished run exercised concurrently."""
        if status == Status.HARNESS_ERROR or scenario.thread_count < 2:
            return
        if evidence.message("setup") is None:
            return  # the shared objects were never built: nothing ran
        ran, raised = ran_and_raised(scenario, evidence)
        with self._lock:
            for number, index in raised:
                op = scenario.threads[number].operations[index]
                for name in self._names(scenario, op, subject):
                    member = self.members[name]
                    member.raised_only = member.raised_only or not member.exercised
            for number, index in ran:
                op = scenario.threads[number].operations[index]
                for name in self._names(scenario, op, subject):
                    self._credit(name)
            if ran:
                for name in self.classes.get(subject.type, []):
                    self._credit(name)

    def _credit(self, name: str) -> None:
        member = self.members[name]
        if not member.exercised:
            member.exercised = True
            self._log.append(name)
        member.raised_only = False

    def _names(self, scenario: Scenario, op: Operation, subject: SubjectLike) -> list[str]:
        """Every item an operation exercises (an item and its aliases), known items only."""
        name = self.qualified_name(op, subject.type)
        found = self.aliases.get(name) or self.member_items.get(name)
        names = list(found) if found else [name] if name in self.members else []
        callee = _callee(scenario, op)
        return [*names, callee] if callee in self.members else names

    def qualified_name(self, op: Operation, type_name: str) -> str:
        """The surface name an operation exercises: ``module.Owner.member`` or the function."""
        if op.kind == "function":
            return op.name
        return self.owners.get((type_name, op.name), f"{type_name}.{op.name}")

    def exercised_since(self, mark: int) -> tuple[int, list[str]]:
        """Item names first exercised after ``mark`` (a count), and the count now."""
        with self._lock:
            return len(self._log), self._log[mark:]

    def summary(self) -> dict[str, tuple[int, int]]:
        """Per module: (exercised, reachable), counting only reachable items."""
        result: dict[str, tuple[int, int]] = {}
        for member in self.members.values():
            if member.reachable:
                done, total = result.get(member.module, (0, 0))
                result[member.module] = (done + member.exercised, total + 1)
        return result

    def entries(self) -> list[CoverageEntry]:
        """Coverage facts for the store."""
        result = []
        with self._lock:
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


def _callee(scenario: Scenario, op: Operation) -> str:
    """``path`` when ``op`` calls a shared object made as ``Ref(path)`` (a function called as
    itself, which is how functions taking no argument are exercised); else ``""``."""
    if op.kind != "method" or op.name != "__call__":
        return ""
    recipe = next((obj.recipe for obj in scenario.shared if obj.name == op.target), None)
    return recipe.path if isinstance(recipe, Ref) else ""


def ran_and_raised(
    scenario: Scenario, evidence: Evidence
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(thread, op) pairs that completed at least one call, and those that raised on every call.

    A run that finished names the operations it refused (``execute.refused_operations``); one
    that did not (crash, hang) says only which operation each thread was in, and those count as
    run.
    """
    done = evidence.message("done")
    pairs = [
        (number, index)
        for number, plan in enumerate(scenario.threads)
        for index in range(len(plan.operations))
    ]
    if done is None:
        ran = {
            (number, index)
            for number, index in enumerate(evidence.in_flight)
            if index is not None
            and 0 <= number < scenario.thread_count
            and 0 <= index < len(scenario.threads[number].operations)
        }
        return sorted(ran), []
    failed = {(int(thread), int(op)) for thread, op in done.get("refused", ())}
    return [p for p in pairs if p not in failed], [p for p in pairs if p in failed]
