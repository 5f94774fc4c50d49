"""Running a standalone reproducer under the same confinement as a scenario child.

Follow-up runs generated code too: reproduction rates of the repro script, gdb backtraces,
``threadstorm repro --runs``.  Run as a plain script those would write files, open sockets and
fork where a campaign child may not.  So the controller never runs a reproducer directly; it
starts this module inside the target instead::

    python -X faulthandler -s -c BOOT FOLDER LIMITS_JSON THREADS SCRIPT [MODULE ...]

which, in order, moves into an empty network namespace (where the platform allows), imports the
campaign's modules (as the fork server does before it forks, so what an import needs is not
refused), then confines itself exactly like a scenario child (``confine.confine_script``:
private working folder, resource limits, disarmed calls, audit guard) and only then runs SCRIPT
as ``__main__``.  Under gdb the confined process is the one debugged.  Standard library only.
"""

from __future__ import annotations

import importlib
import json
import runpy
import sys

from threadstorm.harness.confine import confine_script, isolate_network


def main(argv: list[str]) -> None:
    """Entry point: ``FOLDER LIMITS_JSON THREADS SCRIPT [MODULE ...]``."""
    folder, limits_text, threads, script, modules = (
        argv[0], argv[1], int(argv[2]), argv[3], argv[4:]
    )  # fmt: skip
    isolate_network()  # best effort, as in the fork server; ``interpreters`` reports the state
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - the script's own import reports it again
            print(f"threadstorm: import of {name} failed: {error!r}", file=sys.stderr)
    confine_script(folder, json.loads(limits_text), threads)
    sys.argv = [script]
    runpy.run_path(script, run_name="__main__")
