"""What the sandbox could and could not switch on in a target, said out loud.

The fork server reports whether it moved into an empty network namespace (``network_isolated``:
it needs the privilege to unshare one) and whether the process-count limit binds it
(``process_limit_binds``: RLIMIT_NPROC does not bind root); the session adds whether its process
tree runs in a pids cgroup (``pids_group``, ``target.pids_group``: the ceiling that binds root).
Silence about any of them would let a user believe fuzzed calls cannot reach the network or
fork without end.  ``sandbox_warnings`` turns the facts into the warnings printed by
``interpreters``, by a campaign as it starts, and kept with the target's facts in the store for
the reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def sandbox_warnings(facts: Mapping[str, Any]) -> list[str]:
    """One warning per sandbox layer that is off in a target with ``facts``."""
    warnings: list[str] = []
    if facts.get("network_isolated") is False:
        warnings.append(
            "network isolation is OFF: fuzzed calls are refused sockets by the audit guard only "
            "(an empty network namespace needs root or unprivileged user namespaces)"
        )
    if facts.get("process_limit_binds") is False and not facts.get("pids_group"):
        warnings.append(
            "the process-count limit does not bind this user (root) and no pids cgroup could be "
            "made (cgroup v2 with the pids controller, or a v1 pids hierarchy): the audit guard "
            "refuses fork from Python, but a fork from C code is not limited; run as an ordinary "
            "user"
        )
    return warnings


def sandbox_summary(facts: Mapping[str, Any]) -> str:
    """E.g. ``network isolated, process limit on`` (``?`` for facts a target did not report)."""

    def state(key: str, on: str, off: str) -> str:
        value = facts.get(key)
        return "?" if value is None else (on if value else off)

    network = state("network_isolated", "network isolated", "network NOT isolated")
    cgroup = facts.get("pids_group")
    root = "process limit on (pids cgroup)" if cgroup else "process limit off (root)"
    processes = state("process_limit_binds", "process limit on", root)
    return f"{network}, {processes}"
