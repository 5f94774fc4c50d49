"""One deterministic bug gives one bucket, and its reproducer crashes every time.

The module below has one class whose one method always segfaults when a worker thread calls it.
Whatever the other threads happen to be doing at that instant, it is one bug: a default
campaign must file exactly one bucket, and the bucket's reproducer (and every scenario filed
under it) must crash in 10 of 10 runs.
"""

from __future__ import annotations

import re
from pathlib import Path

from helpers import describe, fuzz_args, report_json, threadstorm, titles

from threadstorm.bucket.judge import judge
from threadstorm.store.db import Store
from threadstorm.target.interpreter import discover
from threadstorm.target.session import HarnessSession

BUDGET_S = 60.0
FOLLOW_UP_SLACK_S = 400.0
RUNS = 10
SCENARIOS_CHECKED = 4

BOX = '''"""One class, one bug: explode() segfaults when called from a worker thread."""

import faulthandler
import threading


class Box:
    def explode(self):
        if threading.current_thread() is not threading.main_thread():
            faulthandler._sigsegv()
        return 0
'''


def test_one_bug_module_gives_one_bucket_that_reproduces(python313d: Path, tmp_path: Path) -> None:
    modules = tmp_path / "mods"
    modules.mkdir()
    (modules / "onebug.py").write_text(BOX)
    out = tmp_path / "campaign"
    args = fuzz_args(python313d, out, "onebug", BUDGET_S, paths=[modules])
    args.remove("--no-follow-up")
    done = threadstorm(*args, timeout=BUDGET_S + FOLLOW_UP_SLACK_S)
    assert done.returncode in (0, 1), describe(done)

    report = report_json(out)
    assert len(report["buckets"]) == 1, titles(report)
    bucket = report["buckets"][0]
    assert bucket["contract"] == "in-contract", titles(report)
    reproduction = bucket["reproduction"]
    assert reproduction is not None
    assert reproduction["crashes"] == reproduction["runs"] == RUNS, reproduction

    script = tmp_path / "repro.py"
    done = threadstorm("repro", str(out), bucket["id"], "--out", str(script), "--runs", str(RUNS))
    assert done.returncode == 0, describe(done)
    measured = re.search(r"(\d+) of (\d+) runs of the script crashed", done.stdout)
    assert measured is not None, describe(done)
    assert measured.groups() == (str(RUNS), str(RUNS)), describe(done)

    with Store.open(out) as store:
        key = store.bucket(bucket["id"]).key
        scenarios = []
        for crash in store.crashes(key):
            if crash.scenario not in scenarios:
                scenarios.append(crash.scenario)
    session = HarnessSession(discover(str(python313d)), ("onebug",), {}, (str(modules),))
    session.start()
    try:
        for scenario in scenarios[:SCENARIOS_CHECKED]:
            verdicts = [judge(session.run(scenario, timeout=30.0), scenario) for _ in range(RUNS)]
            assert [verdict.matches(key) for verdict in verdicts] == [True] * RUNS, scenario
    finally:
        session.close()
