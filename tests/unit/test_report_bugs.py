"""Bugs above buckets: corruption buckets noticed at one native site are listed as one bug."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from test_report_samples import sample_report

from threadstorm.bucket.identity import Signature
from threadstorm.report.bugs import bugs, crash_site

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
