"""Confirmation: replay a ThreadSanitizer finding on the plain debug build of the same version.

TSan sees a race without the race being won; whether the race can crash an ordinary build is
the question a maintainer asks first.  For each sanitizer bucket, follow-up replays its scenario
on the plain (non-TSan) debug build of the target's version, when the build cache holds one,
and keeps how many runs crashed and the first crash's signature: "confirmed crash".
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from threadstorm.bucket.judge import judge
from threadstorm.errors import HarnessError, TargetError
from threadstorm.generate.families import Pace
from threadstorm.scenario.model import Scenario
from threadstorm.store.records import Confirmation
from threadstorm.target.build import build_folder, cache_root, interpreter_path
from threadstorm.target.confined_script import Confinement
from threadstorm.target.interpreter import Interpreter, discover
from threadstorm.target.session import HarnessSession
from threadstorm.triage.outcome import Status

PLAIN_FLAVOUR = "debug"
# The pace of a replay: a race finding ran at the detector's light pace (``DETECTOR_PACE``),
# seen without being won; winning it on a plain build takes the usual repetitions.  Measured on
# 3.14.7's shared-generator races: 0 crashes in 10 replays at 8 x 2, 1-3 in 10 at 100 x 10.
PLAIN_PACE = Pace(iterations=100, rounds=10)


def at_plain_pace(scenario: Scenario) -> Scenario:
    """``scenario`` repeated at least as often as ``PLAIN_PACE`` says."""
    return dataclasses.replace(
        scenario,
        iterations=max(scenario.iterations, PLAIN_PACE.iterations),
        rounds=max(scenario.rounds, PLAIN_PACE.rounds),
    )


def plain_twin(interpreter: Interpreter) -> Path | None:
    """The plain debug build of ``interpreter``'s version in the build cache, for a TSan target."""
    if not interpreter.tsan:
        return None
    folder = build_folder(cache_root(), interpreter.version, PLAIN_FLAVOUR)
    binary = interpreter_path(folder, interpreter.version, PLAIN_FLAVOUR)
    return binary if binary.is_file() and binary != interpreter.path else None


def confirm(
    plain: Path,
    scenario: Scenario,
    confinement: Confinement,
    runs: int,
    timeout_s: float,
) -> Confirmation:
    """Run ``scenario`` ``runs`` times on ``plain`` (each in a fresh child, ``at_plain_pace``);
    count the crashes.

    ``confinement`` holds the campaign's modules, ``--path`` folders and the plain build's limits.
    A target that cannot be started, or cannot import the modules (an extension built for the
    TSan target only), gives a confirmation that says so instead of a count.
    """
    scenario = at_plain_pace(scenario)
    crashes, first = 0, None
    try:
        target = discover(plain)
        with HarnessSession(
            target, confinement.modules, confinement.limits, confinement.paths
        ) as session:
            failed = session.facts.get("import_errors") or {}
            if failed:
                name, why = next(iter(failed.items()))
                return Confirmation(str(plain), 0, 0, error=f"cannot import {name} there ({why})")
            for _ in range(runs):
                verdict = judge(session.run(scenario, timeout_s), scenario)
                if verdict.outcome.status is Status.CRASHED:
                    crashes += 1
                    first = first or verdict.signature
    except (TargetError, HarnessError) as error:
        return Confirmation(str(plain), runs=0, crashes=0, error=str(error).splitlines()[0][:300])
    if first is None:
        return Confirmation(str(plain), runs=runs, crashes=0)
    return Confirmation(str(plain), runs, crashes, signature=first.title, key=first.key)
