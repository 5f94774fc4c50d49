"""Whether a finished campaign tested anything: the reasons it could not, for ``check``'s exit 3.

A check that passes when nothing could be tested is worse than no check: CI reads silence as a
pass.  Three things make a campaign unsound, each a named reason:

- no valid run at all (every run was threadstorm's own failure, or there were none);
- harness errors above ``HARNESS_ERROR_SHARE`` of the runs (the target kills or closes what the
  harness needs, or the harness is broken): what ran is too little to trust;
- the GIL was on in the target (a build with the GIL, or an extension that turned it back on):
  the threads were serialised and most races could not happen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HARNESS_ERROR_SHARE = 0.05


def could_not_test(runs: int, harness_errors: int, facts: Mapping[str, Any]) -> list[str]:
    """Why a campaign of ``runs`` runs (``harness_errors`` of them our own failures) on a target
    with ``facts`` tested nothing trustworthy; empty when it did."""
    reasons: list[str] = []
    valid = runs - harness_errors
    if valid <= 0:
        reasons.append(f"no valid run ({runs} run(s), {harness_errors} harness error(s))")
    elif harness_errors > HARNESS_ERROR_SHARE * runs:
        reasons.append(
            f"{harness_errors} of {runs} runs ended in harness errors "
            f"(more than {HARNESS_ERROR_SHARE:.0%}); see the report's harness errors"
        )
    if not facts.get("free_threaded", False):
        reasons.append("the target is not a free-threaded build: the GIL serialised every run")
    elif facts.get("gil_enabled", True):
        reasons.append(
            "the GIL was on in the target after the imports (an extension without Py_mod_gil?)"
        )
    return reasons
