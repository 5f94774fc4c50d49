"""Judge a run: evidence -> outcome, and for findings, the signature that names the bucket.

The one place where classification and bucketing meet, so the campaign, the reproduction rate,
the minimiser and the variant search all answer "same bug?" the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from threadstorm.bucket.model import Signature
from threadstorm.bucket.signature import signature_for
from threadstorm.scenario.model import Scenario
from threadstorm.triage.classify import classify
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Outcome


@dataclass(frozen=True)
class Verdict:
    """A classified run and, when it is a finding, its signature."""

    outcome: Outcome
    signature: Signature | None

    @property
    def key(self) -> str | None:
        """The bucket key, or None when the run is not a finding."""
        return self.signature.key if self.signature is not None else None


def judge(evidence: Evidence, scenario: Scenario) -> Verdict:
    """Classify ``evidence`` of a run of ``scenario`` and sign it when it is a finding."""
    outcome = classify(evidence)
    if not outcome.status.is_finding:
        return Verdict(outcome, None)
    return Verdict(outcome, signature_for(outcome, evidence, scenario))
