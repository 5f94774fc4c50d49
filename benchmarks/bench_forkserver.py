"""Runs per second of one small scenario: warm fork server against a fresh target per run.

Both sides run the same scenario with the same harness code in the same target, one after the
other in one invocation, so the figures compare like with like:

    .venv/bin/python benchmarks/bench_forkserver.py --python PATH [--seconds 10]

The fresh side starts the interpreter, imports the campaign's modules and the harness, runs the
scenario and exits, exactly what a fuzzer without a fork server pays per run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from threadstorm.scenario.codec import dumps
from threadstorm.scenario.model import (
    Collection,
    Lit,
    Operation,
    Scenario,
    SharedObject,
    ThreadPlan,
)
from threadstorm.target.interpreter import discover
from threadstorm.target.session import HarnessSession, ship_harness, target_environment

MODULES = ("typing", "collections")
ONE_SHOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); import typing, collections; "
    "from threadstorm.scenario.codec import loads; "
    "from threadstorm.harness.execute import run_scenario; "
    "run_scenario(loads(sys.argv[2]), lambda t, o: None, lambda m: None)"
)


def small_scenario() -> Scenario:
    """Four threads, ten repr calls each on a two-item list."""
    return Scenario(
        shared=(SharedObject("obj", Collection("list", (Lit(1), Lit(2)))),),
        threads=tuple(
            ThreadPlan((Operation("function", "obj", "builtins.repr"),)) for _ in range(4)
        ),
        iterations=10,
    ).validate()


def fork_server_rate(
    session: HarnessSession, scenario: Scenario, seconds: float, reuse: int
) -> float:
    for _ in range(10):
        session.run(scenario, reuse=reuse)
    runs, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        session.run(scenario, reuse=reuse)
        runs += 1
    return runs / (time.monotonic() - started)


def fresh_process_rate(python: Path, scenario: Scenario, seconds: float) -> float:
    interpreter = discover(python)
    with tempfile.TemporaryDirectory() as folder:
        ship = ship_harness(Path(folder) / "ship")
        env = target_environment(interpreter, Path(folder))
        command = [
            str(python),
            "-X",
            "faulthandler",
            "-s",
            "-c",
            ONE_SHOT,
            str(ship),
            dumps(scenario),
        ]
        subprocess.run(command, env=env, check=True)
        runs, started = 0, time.monotonic()
        while time.monotonic() - started < seconds:
            subprocess.run(command, env=env, check=True)
            runs += 1
        return runs / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--python", required=True, help="target interpreter")
    parser.add_argument("--seconds", type=float, default=10.0, help="time per side")
    args = parser.parse_args()
    scenario = small_scenario()
    interpreter = discover(args.python)
    with HarnessSession(interpreter, MODULES) as session:
        forked = fork_server_rate(session, scenario, args.seconds, reuse=1)
        reused = fork_server_rate(session, scenario, args.seconds, reuse=16)
    fresh = fresh_process_rate(interpreter.path, scenario, args.seconds)
    print(f"target: {interpreter.label} ({interpreter.path})")
    print(f"fork server, fresh child per run:   {forked:8.1f} runs/s  {forked / fresh:6.1f}x")
    print(f"fork server, child serves 16 runs:  {reused:8.1f} runs/s  {reused / fresh:6.1f}x")
    print(f"fresh target process per run:       {fresh:8.1f} runs/s  {1:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
