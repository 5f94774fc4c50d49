"""Discovery's judgement of module functions: state probes and the names that say "setter"."""

from __future__ import annotations

import types

from threadstorm.harness.trial_values import (
    module_probes,
    module_snapshot,
    name_says_state_change,
)


def test_setter_switch_and_registry_names_change_state_and_getters_do_not() -> None:
    setters = ("set_threshold", "enable", "disable", "register", "unregister", "freeze")
    for name in (*setters, "simplefilter", "filterwarnings", "resetwarnings", "collect", "start"):
        assert name_says_state_change(name), name
    for name in ("get_threshold", "isenabled", "dumps", "lookup", "warn"):
        assert not name_says_state_change(name), name


def test_probes_see_a_setting_and_a_registry_change_but_not_a_moving_counter() -> None:
    module = types.ModuleType("knobs")
    state = {"level": 1, "ticks": 0}
    module.registry = []  # type: ignore[attr-defined]

    def ticks() -> int:
        state["ticks"] += 1
        return state["ticks"]

    probes = module_probes(module, [lambda: state["level"], ticks])
    assert len(probes) == 2  # the registry and the level; the counter moves by itself
    before = module_snapshot(probes)
    assert module_snapshot(probes) == before
    state["level"] = 2
    assert module_snapshot(probes) != before
    before = module_snapshot(probes)
    module.registry.append(len)  # type: ignore[attr-defined]
    assert module_snapshot(probes) != before
