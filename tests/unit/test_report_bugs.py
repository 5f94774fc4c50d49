"""Bugs above buckets: corruption buckets noticed at one native site are listed as one bug, and
a bug report says where the reruns that missed its bucket crashed instead."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from test_report_samples import sample_report

from threadstorm.bucket.identity import Signature
from threadstorm.rate import Rate
from threadstorm.report.bugs import bugs, crash_site
from threadstorm.report.markdown import bucket_markdown
from threadstorm.report.model import RerunEnding, rerun_endings
from threadstorm.store.records import Reproduction

TEXTS = Path(__file__).parent.parent / "corpus" / "texts"
RESIZE_INSERT = (TEXTS / "gdb_setiter.txt").read_text()
ODICT = (TEXTS / "gdb_odict_segv.txt").read_text()


def corruption(ops: str) -> Signature:
    return Signature("corruption", (f"ops: {ops}",))


def test_a_corruption_bucket_with_a_backtrace_is_sited_where_the_damage_was_noticed() -> None:
    site = crash_site(corruption("builtins.set_iterator.__next__()"), RESIZE_INSERT)
    assert site.startswith("corruption noticed in setiter_iternext")
    # without a backtrace it is its own signature, as before
    alone = corruption("builtins.set_iterator.__next__()")
    assert crash_site(alone, None) == alone.title


def test_corruption_buckets_noticed_at_one_site_are_one_bug(tmp_path: Path) -> None:
    template = next(b for b in sample_report(tmp_path).buckets if b.in_contract)
    noticed_together = [
        replace(template, id=f"{n:012x}", signature=corruption(ops), backtrace=RESIZE_INSERT)
        for n, ops in enumerate(("a.f()", "a.f(); a.g()", "a.g(); a.h()"))
    ]
    elsewhere = replace(template, id="00000000000a", signature=corruption("a.f()"), backtrace=ODICT)
    unknown = replace(template, id="00000000000b", signature=corruption("a.k()"), backtrace=None)
    found = bugs([*noticed_together, elsewhere, unknown])
    assert sorted(len(bug.buckets) for bug in found) == [1, 1, 3]
    together = next(bug for bug in found if len(bug.buckets) == 3)
    assert {b.id for b in together.buckets} == {b.id for b in noticed_together}


def test_reruns_that_crashed_elsewhere_are_named_by_bucket() -> None:
    rate = Rate(3, 10, (0.1,) * 3, {"9f2fb0f338a8": 5, "passed": 1, "0123456789ab": 1})
    endings = rerun_endings(Reproduction(rate, 0.1), {"9f2fb0f338a8": "assertion: x.c | f | e"})
    assert endings == (
        RerunEnding("bucket 9f2fb0f338a8 (assertion: x.c | f | e)", 5, finding=True),
        RerunEnding("another crash (signature 0123456789ab)", 1, finding=True),
        RerunEnding("passed", 1, finding=False),
    )
    assert rerun_endings(None, {}) == ()


def test_the_bug_report_says_where_other_reruns_ended(tmp_path: Path) -> None:
    bucket = next(b for b in sample_report(tmp_path).buckets if b.reproduction is not None)
    passed = RerunEnding("passed", 2, finding=False)
    quiet = bucket_markdown(replace(bucket, rerun_endings=(passed,)))
    assert "ended elsewhere" not in quiet
    sibling = RerunEnding("bucket 9f2fb0f338a8 (assertion: x.c | f | e)", 2, finding=True)
    text = bucket_markdown(replace(bucket, rerun_endings=(sibling,)))
    assert "Other reruns ended elsewhere: 2 as bucket 9f2fb0f338a8 (assertion: x.c | f | e)." in (
        text
    )
