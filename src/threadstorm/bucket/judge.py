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

    @property
    def key(self) -> str | None:
        """The bucket key, or None when the run is not a finding."""
        return self.signature.key if self.signature is not None else None

    def matches(self, key: str) -> bool:
        """Whether this run landed in bucket ``key``: its signature, or one of its candidates."""
        return key == self.key or any(key == candidate.key for candidate in self.candidates)

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
    return Verdict(outcome, signature, evidence, tuple(c for c in candidates if c != signature))


def with_c_stack_names(evidence: Evidence, facts: CrashFacts) -> tuple[Evidence, CrashFacts]:
    """The evidence and facts with ``addr2line`` names for a faulthandler C stack, if any."""
    if facts.native_source != "faulthandler" or "c_stack_names" in evidence.extra:
        return evidence, facts
    names = c_stack_names(facts.native_frames)
    if names is None:
        return evidence, facts
    named = dataclasses.replace(evidence, extra={**evidence.extra, "c_stack_names": names})
    return named, facts.with_frame_names(names)
