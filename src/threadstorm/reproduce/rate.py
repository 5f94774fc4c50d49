"""Reproduction rate: how often a scenario (or its script) crashes with the same signature.

Measured by rerunning, never guessed.  ``measure_scenario`` reruns through a warm fork server
(cheap, used by campaigns and the minimiser); ``measure_script`` runs the standalone reproducer
in fresh target processes, as a bug reporter would, but confined like a campaign child: the
script is generated code that calls whatever the campaign's modules offer.  A script storms
until it crashes or its time is up, so on a target with several bugs it may crash at another
one: for buckets that name a site (``SITE_KINDS``), ``same_site`` counts the runs that crashed
where the bucket did.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Sequence, Set
from pathlib import Path

from threadstorm.bucket.identity import Signature
from threadstorm.bucket.judge import judge
from threadstorm.campaign.hangs import run_confirmed
from threadstorm.rate import Rate
from threadstorm.scenario.model import Scenario
from threadstorm.target.capped_output import read_capped
from threadstorm.target.confined_script import Confinement, confined_script
from threadstorm.target.interpreter import Interpreter
from threadstorm.target.session import HarnessSession
from threadstorm.triage.classify import classify
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Status


def measure_scenario(
    session: HarnessSession,
    scenario: Scenario,
    signature_key: str | Set[str],
    runs: int,
    timeout_s: float,
    stop_after_misses: int | None = None,
    deadline: float | None = None,
) -> Rate:
    """Rerun ``scenario`` ``runs`` times; count runs that end in bucket ``signature_key``.

    ``signature_key`` may be a set of keys: a bucket's own and those of the buckets merged into
    it (``Store.bucket_keys``), whose signatures are the same bug.  ``stop_after_misses`` ends
    early once that many runs have missed (the minimiser's shortcut when k of n can no longer
    be reached); ``deadline`` (``time.monotonic``) ends it before a run that would start later,
    so the rate may cover fewer than ``runs`` runs.
    """
    keys = {signature_key} if isinstance(signature_key, str) else signature_key
    crashes, times, others, misses = 0, [], Counter[str](), 0
    done = 0
    for _ in range(runs):
        if deadline is not None and time.monotonic() >= deadline:
            break
        evidence = run_confirmed(session, scenario, timeout_s)
        verdict = judge(evidence, scenario)
        done += 1
        if any(verdict.matches(key) for key in keys):
            crashes += 1
            times.append(evidence.duration_s)
            continue
        others[verdict.key or verdict.outcome.status.label] += 1
        misses += 1
        if stop_after_misses is not None and misses >= stop_after_misses:
            break
    return Rate(crashes, done, tuple(times), dict(others))


def run_script(
    interpreter: Interpreter, script: Path, timeout_s: float, confinement: Confinement
) -> Evidence:
    """Run a reproducer once in a fresh target process, confined like a campaign child (a copy
    in a private folder, ``target.confined_script``); return its evidence.

    Its stdout is thrown away and its stderr kept capped (``target.capped_output``): a script
    may print without end.
    """
    started = time.monotonic()
    with confined_script(interpreter, script.read_text("utf-8"), confinement, timeout_s) as run:
        process = subprocess.Popen(
            [*run.prefix, *run.argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=run.env,
            cwd=run.cwd,
            start_new_session=True,
        )
        captured = read_capped(process, timeout_s, process.kill)  # by pid: the one we started
    returncode = process.returncode
    wait_status = (-returncode) & 0x7F if returncode < 0 else (returncode & 0xFF) << 8
    return Evidence(
        wait_status=wait_status,
        exit_code=returncode,
        timed_out=captured.timed_out,
        duration_s=time.monotonic() - started,
        stderr=captured.output,
        messages=({"event": "done", "status": "passed"},) if returncode == 0 else (),
    )


def measure_script(
    interpreter: Interpreter, script: Path, runs: int, timeout_s: float, confinement: Confinement
) -> tuple[Rate, list[Evidence]]:
    """Run the script ``runs`` times; a run counts when the target died (signal or fatal error).

    Returns the measurement and the evidence of every run that crashed, so the caller can say
    how many crashed where the bucket did (``same_site``).
    """
    others = Counter[str]()
    crashed: list[Evidence] = []
    for _ in range(runs):
        evidence = run_script(interpreter, script, timeout_s, confinement)
        if classify(evidence).status >= Status.CRASHED:
            crashed.append(evidence)
        else:
            others["timed out" if evidence.timed_out else f"exit {evidence.exit_code}"] += 1
    times = tuple(evidence.duration_s for evidence in crashed)
    return Rate(len(crashed), runs, times, dict(others)), crashed


# Signature kinds a script's own crash can be checked against: they name a site (an assertion,
# a fatal error, native frames, a race pair), not the harness's Python frames and operations in
# flight, which a standalone script does not have.
SITE_KINDS = frozenset({"assertion", "fatal", "native", "race", "sanitizer"})


def same_site(
    crashed: Sequence[Evidence], scenario: Scenario, keys: Set[str], signature: Signature
) -> int:
    """How many of a script's crashing runs ended in the bucket: one of its ``keys`` (its own
    and those merged into it), or a run its ``signature`` admits (a race with a side
    ThreadSanitizer lost matches a race with the same known side)."""
    verdicts = [judge(evidence, scenario) for evidence in crashed]
    return sum(
        any(verdict.matches(key) for key in keys) or verdict.shows(signature)
        for verdict in verdicts
    )
