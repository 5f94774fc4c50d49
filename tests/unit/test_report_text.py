"""The terminal report: exact text on a fixed-width console."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from test_report_samples import sample_report

from threadstorm.report.text import bucket_to_text, render, to_text
from threadstorm.target.facts import TargetFacts

SUMMARY = """\
threadstorm campaign runs/demo (finished)
target    CPython 3.13.5 free-threaded, debug build
          /cache/pythons/cpython-3.13.5-debug/install/bin/python3.13td
runs      171 in 2m 00s (1.4 runs/s)
modules   builtins, typing
seed      7
outcomes  passed 160 · raised 6 · hung 1 · crashed 3 · harness_error 1

Bugs: 2
bug            status    count   buckets   best rate                      crash site
────────────────────────────────────────────────────────────────────────────────────────────────────
f966617b0b08   crashed       2   1         8/10 (80 %, 95 % CI 49-94 %)   union_repr
                                                                          (Objects/unionobject.c):
                                                                          PyTuple_Check(alias->args)
999c71631bb7   hung          1   1         not measured                   hang: listiter_next |
                                                                          obj.__next__()

In-contract buckets: 2
id             status    count   rate                           first seen   signature
────────────────────────────────────────────────────────────────────────────────────────────────────
f966617b0b08   crashed       2   8/10 (80 %, 95 % CI 49-94 %)   +12 s        assertion:
                                                                             Objects/unionobject.c |
                                                                             union_repr |
                                                                             PyTuple_Check(alias->ar
                                                                             gs)
999c71631bb7   hung          1   not measured                   +1m 15s      hang: listiter_next |
                                                                             obj.__next__()

Outside the thread-safety contract: 1 (1 buckets)
rule              function        count   types affected
────────────────────────────────────────────────────────
concurrent-init   PyObject_Repr       1   classmethod

Details: threadstorm report runs/demo --format markdown --bucket ID

Outcomes by type and family
type          readers_vs_mutators            reinit               shared_iterator
──────────────────────────────────────────────────────────────────────────────────────────────────
classmethod                                  41 runs, crashed 1
iter(list)                                                        32 runs, hung 1, harness_error 1
list          98 runs, crashed 2, raised 6

Surface coverage
module     total   reachable   exercised   of total   of reachable   never exercised
───────────────────────────────────────────────────────────────────────────────────────────────────
builtins       3           2           2       67 %          100 %   open (denied)
typing         1           1           0        0 %            0 %   Union.__args__ (always raised)

Generation weights
  explore 0.2, families.readers_vs_mutators 2.5, families.reinit 1
"""

OUTSIDE_BUCKET = """\
bucket a847f088057c: native: cm_repr | PyObject_Repr | list_repr
status    crashed
contract  outside-contract (concurrent-init: re-running __init__ on a shared object is unsupported)
seen      once, first at +40 s
outcome   SIGSEGV
target    CPython 3.13.5 free-threaded, debug build

Smallest scenario
shared obj = classmethod(len)
thread 1: repr(obj)
thread 2: obj.__init__(abs)
100 iterations x 1 round

Crash output
Fatal Python error: Segmentation fault
"""


def test_summary_text_is_exact(tmp_path: Path) -> None:
    assert to_text(sample_report(tmp_path), width=100) == SUMMARY


REASONS = """\
Why items were never exercised
reason          items   for example
──────────────────────────────────────
always raised       1   Union.__args__
denied              1   open
"""


def test_coverage_option_adds_the_reasons_after_the_coverage_table(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    plain = to_text(report, width=100)
    text = to_text(report, width=100, coverage=True)
    assert REASONS not in plain
    assert REASONS in text
    assert text.index("Surface coverage") < text.index(REASONS) < text.index("Generation weights")


def test_outside_contract_bucket_text_is_exact(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    assert bucket_to_text(report.buckets[2], width=100) == OUTSIDE_BUCKET


def test_full_bucket_shows_every_section_in_order(tmp_path: Path) -> None:
    text = bucket_to_text(sample_report(tmp_path).buckets[0], width=100)
    sections = ["Smallest scenario", "Minimised", "Sibling types", "Backtrace", "Repro script"]
    positions = [text.index(f"\n{name}\n") for name in sections]
    assert positions == sorted(positions)
    assert "rate      8/10 (80 %, 95 % CI 49-94 %), median time to crash 0.42 s\n" in text
    assert (
        "collections.deque: crashed in 3/10 (30 %, 95 % CI 11-60 %), same bucket\ntuple: no crash"
        in text
    )
    assert "#2  0x000055d0c0a1b2c3 in union_repr (self=0x7f3a18001230) at" in text
    assert text.endswith("    thread.join()\n")


def test_gil_warning_is_loud(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    target = TargetFacts(version="3.14.7", free_threaded=True, gil_enabled=True)
    report = replace(report, campaign=replace(report.campaign, target=target))
    text = to_text(report, width=200)
    assert (
        "warning: the GIL was enabled at run time (an imported extension does not declare" in text
    )


def test_empty_campaign(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    campaign = replace(report.campaign, outcomes=(), runs=0)
    empty = replace(report, campaign=campaign, buckets=(), coverage=(), weights={})
    text = to_text(empty)
    assert "outcomes  no runs yet\n" in text
    assert "No crashes, hangs or sanitizer reports." in text


def test_render_on_a_colour_terminal_keeps_the_words(tmp_path: Path) -> None:
    stream = io.StringIO()
    console = Console(file=stream, width=100, force_terminal=True, color_system="truecolor")
    render(sample_report(tmp_path), console)
    output = stream.getvalue()
    assert "\x1b[" in output
    assert "crashed" in output
