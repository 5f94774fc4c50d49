"""The report model: what is extracted from a store, and the words used for it."""

from __future__ import annotations

from pathlib import Path

from test_report_samples import (
    CONFIG,
    HANG_SIGNATURE,
    UNION_SIGNATURE,
    sample_report,
    union_scenario,
)

from threadstorm.report.describe import (
    duration_text,
    operation_text,
    recipe_text,
    scenario_lines,
    size_text,
    subject_of,
)
from threadstorm.report.model import build_report, flat_weights
from threadstorm.scenario.model import Call, Collection, Lit, Make, Operation, Ref
from threadstorm.store.db import Store
from threadstorm.target.facts import TargetFacts


def test_campaign_facts(tmp_path: Path) -> None:
    campaign = sample_report(tmp_path).campaign
    assert (campaign.status, campaign.runs, campaign.duration_s) == ("finished", 171, 120.0)
    assert campaign.outcomes == (
        ("passed", 160),
        ("raised", 6),
        ("hung", 1),
        ("crashed", 3),
        ("harness_error", 1),
    )
    assert (campaign.modules, campaign.seed) == (("builtins", "typing"), 7)
    assert campaign.target.label == "CPython 3.13.5 free-threaded, debug build"


def test_buckets_in_contract_first_with_their_facts(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    union, hang, outside = report.buckets
    assert (union.id, hang.id) == (UNION_SIGNATURE.key, HANG_SIGNATURE.key)
    assert report.in_contract == (union, hang) and report.outside_contract == (outside,)
    assert (union.first_seen_s, union.last_seen_s) == (12.5, 61.0)
    assert union.scenario == union_scenario(size=8, threads=2)  # the smallest seen
    assert (union.signal, union.family, union.subject) == ("SIGABRT", "readers_vs_mutators", "list")
    assert union.outcome_text == (
        "failed C assertion PyTuple_Check(alias->args) at unionobject.c:296 (SIGABRT)"
    )
    assert [v.subject for v in union.siblings_affected] == ["collections.deque"]
    assert hang.outcome_text == "no progress for 10 s"  # the harness's kill is not the finding
    assert outside.crash_output == "Fatal Python error: Segmentation fault"
    assert report.bucket(hang.id) is hang


def test_coverage_matrix_discoveries_weights(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    typing = report.coverage[1]
    assert (typing.module, typing.total, typing.reachable, typing.exercised) == ("typing", 1, 1, 0)
    assert typing.never_reached == (("Union.__args__", "always raised"),)
    matrix = report.matrix
    assert matrix.subjects == ("classmethod", "iter(list)", "list")
    assert matrix.families == ("readers_vs_mutators", "reinit", "shared_iterator")
    cell = matrix.cell("iter(list)", "shared_iterator")
    assert cell is not None and (cell.worst, cell.runs) == ("hung", 32)
    assert matrix.cell("list", "reinit") is None
    assert [(p.number, p.offset_s) for p in report.discoveries] == [(1, 12.5), (2, 40.0), (3, 75.0)]
    assert flat_weights(report.weights) == [
        ("explore", 0.2),
        ("families.readers_vs_mutators", 2.5),
        ("families.reinit", 1.0),
    ]


def test_report_of_a_fresh_store(tmp_path: Path) -> None:
    with Store.create(tmp_path / "c", {}) as store:
        report = build_report(store)
    assert report.buckets == () and report.coverage == () and report.matrix.cells == ()
    assert report.campaign.target == TargetFacts()
    assert report.campaign.target.label == "target not recorded"
    assert report.campaign.runs_per_second == 0.0


def test_target_warnings() -> None:
    assert TargetFacts(free_threaded=False).warnings[0].startswith("the target is not a free-")
    assert "Py_mod_gil" in TargetFacts(gil_enabled=True).warnings[0]
    assert TargetFacts().warnings == ()
    assert TargetFacts.from_probe(CONFIG["target"]).debug  # type: ignore[arg-type]
    sanitized = TargetFacts(version="3.14.7", sanitizer="thread")
    assert sanitized.label == "CPython 3.14.7 free-threaded, release build, thread sanitizer"


def test_words() -> None:
    union = Make("big_union", (("size", 40),))
    assert recipe_text(Call(Ref("builtins.list"), (Collection("list", (union, Lit(1))),))) == (
        "list([big_union(size=40), 1])"
    )
    assert recipe_text(Collection("tuple", tuple(Lit(n) for n in range(6)))) == (
        "(0, 1, 2, 3, ... 6 items)"
    )
    assert operation_text(Operation("function", "obj", "copy.copy")) == "copy.copy(obj)"
    assert operation_text(Operation("setattr", "obj", "x", (Lit(1),))) == "obj.x = 1"
    assert subject_of(union_scenario()) == "list"
    assert scenario_lines(union_scenario())[-1] == "200 iterations x 1 round"
    assert size_text((1, 2, 1, 5, 200)) == (
        "1 thread, 2 operations, 1 shared object, value size 5, 200 repetitions"
    )
    assert [duration_text(s) for s in (0, 0.421, 12.4, 125, 3725)] == [
        "0 s",
        "0.42 s",
        "12 s",
        "2m 05s",
        "1h 02m",
    ]


def test_coverage_shares_and_reasons_count_against_everything_the_module_has() -> None:
    from threadstorm.report.model import ModuleCoverage, coverage_reasons

    io = ModuleCoverage(
        "io",
        total=10,
        reachable=4,
        exercised=3,
        never_reached=(
            ("io.BufferedReader", "could not build an instance"),
            ("io.BufferedWriter", "could not build an instance"),
            ("io.open", "denied"),
        ),
    )
    empty = ModuleCoverage("none", total=0, reachable=0, exercised=0, never_reached=())
    assert (io.of_total, io.of_reachable) == (0.3, 0.75)
    assert (empty.of_total, empty.of_reachable) == (0.0, 0.0)
    reasons = coverage_reasons((io, empty), examples=1)
    assert [(r.reason, r.count, r.examples) for r in reasons] == [
        ("could not build an instance", 2, ("io.BufferedReader",)),
        ("denied", 1, ("io.open",)),
    ]
