"""A script's crash counts for its bucket only where the bucket crashed: a script storms until
its time is up, and on a target with several bugs it may hit another one first."""

from __future__ import annotations

from pathlib import Path

from threadstorm.bucket.judge import judge
from threadstorm.reproduce.rate import SITE_KINDS, same_site
from threadstorm.scenario.model import Call, Lit, Operation, Ref, Scenario, SharedObject, ThreadPlan
from threadstorm.triage.evidence import Evidence

TEXTS = Path(__file__).parent.parent / "corpus" / "texts"
COMBINATIONS = Scenario(
    shared=(
        SharedObject(
            "it",
            Call(Ref("itertools.combinations"), (Call(Ref("builtins.range"), (Lit(10),)), Lit(3))),
            fresh=True,
        ),
    ),
    threads=(ThreadPlan((Operation("function", "it", "builtins.next"),)),) * 4,
)


def aborted(stderr: bytes) -> Evidence:
    """A script run that ended on SIGABRT with ``stderr`` (no harness messages)."""
    return Evidence(6, -6, False, 0.5, stderr)


def test_only_the_runs_that_failed_the_bucket_s_assertion_count() -> None:
    own = aborted((TEXTS / "combinations_next_assert.txt").read_bytes())
    other = aborted(
        b"python3.13td: Objects/odictobject.c:1030: _odict_find_node: Assertion "
        b"`od->od_fast_nodes != NULL' failed.\nFatal Python error: Aborted\n"
    )
    signature = judge(own, COMBINATIONS).signature
    assert signature is not None and signature.kind in SITE_KINDS
    keys = {signature.key}
    assert same_site([own, other, own], COMBINATIONS, keys) == 2
    assert same_site([other], COMBINATIONS, keys) == 0
