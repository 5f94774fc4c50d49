"""Markdown: the per-bucket bug report (exact) and the campaign summary."""

# The expected bug report is exact Markdown, whose paragraphs are single long lines.
# ruff: noqa: E501

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from test_report_samples import sample_report

from threadstorm.report.markdown import bucket_markdown, campaign_markdown, cell, fenced, table

UNION_BUG_REPORT = '''\
# Free-threaded 3.13.5: assertion `PyTuple_Check(alias->args)` fails when `repr(obj)` races `obj.pop()` on a shared `list`

## What happens

On CPython 3.13.5 free-threaded, debug build, 2 threads sharing one `list` crash the interpreter:

```
shared obj = list([big_union(size=2), 1]) (rebuilt every round)
thread 1: repr(obj)
thread 2: obj.pop(); obj.append(big_union(size=2))
```

Each thread repeats its operations (200 iterations x 1 round); the threads start together.

Outcome: failed C assertion PyTuple_Check(alias->args) at unionobject.c:296 (SIGABRT).

## Reproducer

Standard library only; run it with the free-threaded interpreter. It repeats the scenario until the process crashes or its time limit passes.

```python
"""threadstorm reproducer: repr(list) racing list.pop() over a big typing.Union."""
import threading
import typing

items = [typing.Union[int, str, bytes]]


def reader():
    for _ in range(200):
        repr(items)


threads = [threading.Thread(target=reader) for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
```

## How often

Crashed in 8/10 (80 %, 95 % CI 49-94 %) reruns of the scenario; median time to crash 0.42 s.
Seen twice during the campaign, first at +12 s.
Minimised from 3 threads, 4 operations, 1 shared object, value size 45, 200 repetitions (crashed 6/10) to 2 threads, 2 operations, 1 shared object, value size 5, 200 repetitions (crashed 8/10).

## Backtrace

```
#0  __pthread_kill_implementation (no_tid=0, signo=6, threadid=<optimized out>)
#1  0x00007f3a1d0a0f1f in __GI_raise (sig=sig@entry=6)
#2  0x000055d0c0a1b2c3 in union_repr (self=0x7f3a18001230) at Objects/unionobject.c:296
#3  0x000055d0c0a0f00d in PyObject_Repr (v=0x7f3a18001230) at Objects/object.c:679
#4  0x000055d0c09e1234 in list_repr_impl (v=0x7f3a18000f10) at Objects/listobject.c:489
```

## Environment

- CPython 3.13.5 free-threaded, debug build
- GIL disabled at run time
- interpreter: `/cache/pythons/cpython-3.13.5-debug/install/bin/python3.13td`
- configure: `'--disable-gil' '--with-pydebug'`

## Sibling types

The same scenario with the shared object replaced by sibling types:

- `collections.deque`: crashed in 3/10 (30 %, 95 % CI 11-60 %), same bucket
- `tuple`: no crash in 10 runs

---
Found by threadstorm: bucket `f966617b0b08`, signature `assertion: Objects/unionobject.c | union_repr | PyTuple_Check(alias->args)`, seen twice in the campaign `runs/demo`.
'''


def test_bucket_bug_report_is_exact(tmp_path: Path) -> None:
    assert bucket_markdown(sample_report(tmp_path).buckets[0]) == UNION_BUG_REPORT


def test_outside_contract_bug_report_says_so_first_and_offers_the_scenario(tmp_path: Path) -> None:
    text = bucket_markdown(sample_report(tmp_path).buckets[2])
    title, _, warning = text.splitlines()[:3]
    assert title == (
        "# Free-threaded 3.13.5: crash (SIGSEGV) when `repr(obj)` races `obj.__init__()` "
        "on a shared `classmethod`"
    )
    assert warning.startswith("> **Outside the thread-safety contract.**")
    assert "concurrent-init: re-running __init__" in warning
    assert "`threadstorm repro runs/demo a847f088057c --out repro.py` writes one" in text
    assert '```json\n{"family":"reinit"' in text
    assert "The reproduction rate was not measured." in text
    assert "## Crash output\n\n```\nFatal Python error: Segmentation fault\n```" in text


def test_hang_bug_report(tmp_path: Path) -> None:
    text = bucket_markdown(sample_report(tmp_path).buckets[1])
    assert text.startswith(
        "# Free-threaded 3.13.5: hang when 2 threads run `obj.__next__()` at once on a shared "
        "`iter(list)`\n"
    )
    assert "2 threads sharing one `iter(list)` hang:" in text


def test_campaign_summary(tmp_path: Path) -> None:
    text = campaign_markdown(sample_report(tmp_path))
    assert text.startswith("# threadstorm campaign `runs/demo`\n\n|  |  |\n|---|---|\n")
    assert "| runs | 171 in 2m 00s (1.4 runs/s) |" in text
    assert "## Bugs: 2" in text
    assert "## Outside the thread-safety contract: 1 (1 buckets)" in text
    assert (
        "| `f966617b0b08` | crashed | 2 | 1 | 8/10 (80 %, 95 % CI 49-94 %) | "
        "union_repr (Objects/unionobject.c): PyTuple_Check(alias->args) |"
    ) in text
    assert text.index("## Bugs: 2") < text.index("## Outside the thread-safety contract")
    assert "| concurrent-init | `PyObject_Repr` | `classmethod` | 1 | `a847f088057c` |" in text
    assert "### `a847f088057c`" not in text  # outside-contract buckets get no section
    assert "- sibling types affected: `collections.deque`" in text
    assert "| `list` | crashed 2, raised 6, passed 90 |  |  |" in text
    assert "| typing | 1 | 1 | 0 | Union.__args__ (always raised) |" in text
    assert "| families.readers_vs_mutators | 2.5 |" in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_campaign_without_findings(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    text = campaign_markdown(replace(report, buckets=()))
    assert "## Findings\n\nNo crashes, hangs or sanitizer reports." in text


def test_markdown_pieces() -> None:
    assert cell("a | b\nc") == "a \\| b c"
    assert table(("x", "y"), [("1", "2")]) == ["| x | y |", "|---|---|", "| 1 | 2 |"]
    assert fenced("print(1)", "python") == ["```python", "print(1)", "```"]
    assert fenced("a ```` b") == ["`````", "a ```` b", "`````"]
