"""Modules made of functions are stormed, not refused: a short campaign through the CLI.

``gc``, ``marshal`` and ``_thread`` have few or no objects the tool can build; before the
module-state family, ``fuzz --modules gc`` exited 2.  Now their functions are called
concurrently, state changers against their counterparts, each such run in a child of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import fuzz, report_json

from threadstorm.store.db import Store

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODULES = "gc,marshal,_thread,locale,warnings,codecs"
BUDGET_S = 45
MIN_FUNCTION_SHARE = 0.80  # of the public functions the deny-list allows
MAX_HARNESS_ERRORS = 0.02  # of all runs


def test_modules_of_functions_run_a_campaign_that_calls_most_of_them(
    python313d: Path, tmp_path: Path
) -> None:
    out = tmp_path / "campaign"
    fuzz(python313d, out, MODULES, BUDGET_S)
    with Store.open(out, readonly=True) as store:
        functions = [e for e in store.coverage() if e.kind in ("function", "builtin")]
    allowed = [e for e in functions if e.reason != "denied"]
    exercised = {e.name for e in allowed if e.exercised}
    missed = sorted((e.name, e.reason) for e in allowed if not e.exercised)
    assert len(exercised) >= MIN_FUNCTION_SHARE * len(allowed), missed
    for name in ("gc.collect", "gc.disable", "gc.enable", "gc.set_threshold", "_thread.get_ident"):
        assert name in exercised, missed
    denied = {e.name for e in functions if e.reason == "denied"}
    assert {"_thread.start_new_thread", "_thread.interrupt_main", "gc.set_debug"} <= denied
    doc = report_json(out)
    outcomes = doc["campaign"]["outcomes"]
    runs = sum(outcomes.values())
    assert doc["weights"]["families"]["module_state"] > 0
    assert outcomes.get("harness_error", 0) <= MAX_HARNESS_ERRORS * runs, outcomes
