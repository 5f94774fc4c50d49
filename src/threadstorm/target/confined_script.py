"""Starting a standalone reproducer inside the target, confined like a campaign child.

``confined_script`` prepares a private folder (the shipped harness, a sandbox folder holding a
copy of the script) and yields the command, environment and working folder that run the script
through ``threadstorm.harness.script``: network namespace where available, the campaign's
modules imported, then the scenario child's confinement (audit guard, rlimits, private folder,
disarmed calls), then the script.  Rates of repro scripts, ``repro --runs`` and gdb backtraces
all start scripts this way; the folder is removed afterwards, with whatever the script wrote.
Where a pids cgroup can be made (``target.pids_group``), the run starts inside one
(``ScriptRun.prefix``), and whatever it left running is killed with the group.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from threadstorm.harness.confine import cpu_seconds_per_thread
from threadstorm.target.interpreter import Interpreter
from threadstorm.target.pids_group import TASK_LIMIT, pids_group
from threadstorm.target.session import ship_harness, target_environment
from threadstorm.target.stale import mark_owner

BOOT = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from threadstorm.harness.script import main; main(sys.argv[1:])"
)
SCRIPT_NAME = "repro.py"


@dataclass(frozen=True)
class Confinement:
    """What a script run is confined by: the campaign's limits, modules and ``--path`` folders.

    ``threads`` is the reproducer's thread count and ``seconds`` how long it may run; together
    they size the CPU allowance so a script that runs its whole time is not cut short.
    """

    limits: dict[str, int] = field(default_factory=dict)
    modules: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    threads: int = 1
    tasks: int = TASK_LIMIT  # the run's pids cgroup allows this many processes and threads

    def script_limits(self, seconds: float) -> dict[str, int]:
        return {**self.limits, "cpu_seconds": cpu_seconds_per_thread(seconds)}


@dataclass(frozen=True)
class ScriptRun:
    """How to start one confined run of a script.

    ``prefix`` goes before the command that starts it (the script's ``argv``, or gdb running
    it): it moves the command into the run's pids cgroup (``target.pids_group``); empty where
    none could be made.
    """

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    prefix: tuple[str, ...] = ()


@contextmanager
def confined_script(
    interpreter: Interpreter, script: str, confinement: Confinement, seconds: float
) -> Iterator[ScriptRun]:
    """A fresh private folder holding ``script``; the command that runs it confined there."""
    folder = Path(tempfile.mkdtemp(prefix="threadstorm-script-"))
    try:
        mark_owner(folder)
        ship = ship_harness(folder / "ship")
        sandbox = folder / "sandbox"
        sandbox.mkdir()
        path = sandbox / SCRIPT_NAME
        path.write_text(script, encoding="utf-8")
        argv = [
            str(interpreter.path), "-X", "faulthandler", "-s", "-c", BOOT, str(ship),
            str(sandbox), json.dumps(confinement.script_limits(seconds)),
            str(confinement.threads + 1), str(path), *confinement.modules,
        ]  # fmt: skip
        env = target_environment(interpreter, sandbox, confinement.paths, script=True)
        with pids_group(confinement.tasks) as group:
            yield ScriptRun(argv, env, sandbox, group.prefix() if group else ())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
