"""Judge a run: evidence -> outcome, and for findings, the signature that names the bucket.

The one place where classification and bucketing meet, so the campaign, the reproduction rate,
the minimiser and the variant search all answer "same bug?" the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from threadstorm.bucket.identity import Signature
from threadstorm.bucket.signature import candidate_signatures, signature_for
from threadstorm.scenario.model import Scenario
from threadstorm.triage.classify import classify
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.facts import CrashFacts, crash_facts
from threadstorm.triage.outcome import Outcome
from threadstorm.triage.symbolize import c_stack_names


@dataclass(frozen=True)
class Verdict:
    """A classified run, its signature when it is a finding, and the evidence it was judged on
    (with the C stack's real frame names added, when the target printed one)."""

    outcome: Outcome
    signature: Signature | None
    evidence: Evidence
    candidates: tuple[Signature, ...] = ()  # when the dump does not say which worker crashed
    # Further findings of the same run, each with its own signature: the other distinct races
    # a ThreadSanitizer run reported after the first (``halt_on_error=0`` lets it go on).
    more: tuple[tuple[Signature, Outcome], ...] = ()

    @property
    def key(self) -> str | None:
        """The bucket key, or None when the run is not a finding."""
        return self.signature.key if self.signature is not None else None

    def matches(self, key: str) -> bool:
        """Whether this run landed in bucket ``key``: its signature, one of its candidates, or
        one of its further findings (a race reported anywhere in the run)."""
        return (
            key == self.key
            or any(key == candidate.key for candidate in self.candidates)
            or any(key == signature.key for signature, _ in self.more)
        )

    def shows(self, signature: Signature) -> bool:
        """Whether this run shows the failure ``signature`` names (``Signature.admits``): as its
        signature, a candidate, or a further finding."""
        signed = [self.signature, *self.candidates, *(found for found, _ in self.more)]
        return any(other is not None and signature.admits(other) for other in signed)

    def filed_under(self, known: Callable[[str], bool]) -> Signature | None:
        """The signature to file the run under: a candidate whose bucket exists, else its own."""
        for candidate in self.candidates:
            if known(candidate.key):
                return candidate
        return self.signature


def judge(evidence: Evidence, scenario: Scenario) -> Verdict:
    """Classify ``evidence`` of a run of ``scenario`` and sign it when it is a finding.

    The evidence is parsed once (``crash_facts``); classification and the signature both read
    those facts.
    """
    facts = crash_facts(evidence)
    outcome = classify(evidence, facts)
    if not outcome.status.is_finding:
        return Verdict(outcome, None, evidence)
    evidence, facts = with_c_stack_names(evidence, facts)
    outcome = dataclasses.replace(outcome, facts=facts)
    signature = signature_for(outcome, evidence, scenario)
    candidates = candidate_signatures(outcome, evidence, scenario)
    others = tuple(c for c in candidates if c != signature)
    return Verdict(outcome, signature, evidence, others, _more_reports(outcome, evidence, scenario))


def _more_reports(
    outcome: Outcome, evidence: Evidence, scenario: Scenario
) -> tuple[tuple[Signature, Outcome], ...]:
    """The run's other sanitizer reports with a signature of their own, in order, once each."""
    facts = outcome.facts
    if facts is None or not facts.more_sanitizer:
        return ()
    seen = {signature_for(outcome, evidence, scenario)}
    found: list[tuple[Signature, Outcome]] = []
    for each in facts.each_sanitizer_report()[1:]:
        assert each.sanitizer is not None  # each_sanitizer_report puts one first
        report = dataclasses.replace(
            outcome, reason=f"{each.sanitizer.tool}: {each.sanitizer.kind}", facts=each
        )
        signature = signature_for(report, evidence, scenario)
        if signature not in seen:
            seen.add(signature)
            found.append((signature, report))
    return tuple(found)


def with_c_stack_names(evidence: Evidence, facts: CrashFacts) -> tuple[Evidence, CrashFacts]:
    """The evidence and facts with ``addr2line`` names for a faulthandler C stack, if any."""
    if facts.native_source != "faulthandler" or "c_stack_names" in evidence.extra:
        return evidence, facts
    names = c_stack_names(facts.native_frames)
    if names is None:
        return evidence, facts
    named = dataclasses.replace(evidence, extra={**evidence.extra, "c_stack_names": names})
    return named, facts.with_frame_names(names)
