"""A script's crash counts for its bucket only where the bucket crashed: a script storms until
its time is up, and on a target with several bugs it may hit another one first."""

from __future__ import annotations

from pathlib import Path

from threadstorm.bucket.identity import Signature
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
    assert same_site([own, other, own], COMBINATIONS, keys, signature) == 2
    assert same_site([other], COMBINATIONS, keys, signature) == 0


def test_a_race_side_tsan_lost_matches_any_race_with_the_known_side() -> None:
    lost = Signature("race", ("?", "Tally_reset"))
    assert lost.admits(Signature("race", ("Tally_add", "Tally_reset")))
    assert lost.admits(Signature("race", ("Tally_reset", "Tally_reset")))
    assert not lost.admits(Signature("race", ("Tally_add", "Tally_mean")))
    assert not lost.admits(Signature("native", ("?", "Tally_reset")))
    known = Signature("race", ("Tally_add", "Tally_reset"))
    assert known.admits(known) and not known.admits(Signature("race", ("Tally_add", "Tally_add")))


def test_a_tsan_script_run_counts_for_a_bucket_whose_other_side_was_lost() -> None:
    report = (TEXTS / "tsan_planted_tally.txt").read_bytes()
    run = Evidence(66, 66, False, 0.5, report)
    found = judge(run, COMBINATIONS).signature
    assert found is not None and found.kind == "race" and "?" not in found.parts
    lost = Signature("race", ("?", found.parts[1]))
    assert same_site([run], COMBINATIONS, set(), lost) == 1
    assert same_site([run], COMBINATIONS, set(), Signature("race", ("?", "elsewhere"))) == 0
