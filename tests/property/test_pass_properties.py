"""Properties of the reduction passes over generated scenarios: valid, strictly simpler, finite."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from threadstorm.minimise.passes import PASSES
from threadstorm.scenario.model import (
    BytesLit,
    Call,
    Collection,
    Lit,
    Make,
    Operation,
    Recipe,
    Ref,
    Scenario,
    Shared,
    SharedObject,
    ThreadPlan,
)
from threadstorm.scenario.simplicity import sort_key

NAMES = ("a", "b", "c")

makes = st.one_of(
    st.builds(lambda n: Make("big_union", (("size", n),)), st.integers(0, 64)),
    st.builds(lambda n: Make("big_int", (("digits", n),)), st.integers(0, 2000)),
    st.builds(lambda n: Make("big_str", (("length", n),)), st.integers(0, 5000)),
    st.builds(
        lambda d, w: Make("nested_list", (("depth", d), ("width", w))),
        st.integers(0, 4),
        st.integers(0, 6),
    ),
    st.builds(
        lambda t: Make("hostile", (("dunder", "__eq__"), ("action", "clear"), ("target", t))),
        st.sampled_from(NAMES),
    ),
)
leaves: st.SearchStrategy[Recipe] = st.one_of(
    st.one_of(st.none(), st.integers(), st.text(max_size=5)).map(Lit),
    st.binary(max_size=5).map(BytesLit),
    st.sampled_from(["builtins.int", "typing.Any"]).map(Ref),
    st.sampled_from(NAMES).map(Shared),
    makes,
)
recipes = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(
            Collection,
            st.sampled_from(["list", "tuple", "set"]),
            st.lists(inner, max_size=4).map(tuple),
        ),
        st.builds(
            lambda pairs: Collection("dict", tuple(x for pair in pairs for x in pair)),
            st.lists(st.tuples(inner, inner), max_size=3),
        ),
        st.builds(Call, st.just(Ref("builtins.list")), st.lists(inner, max_size=2).map(tuple)),
    ),
    max_leaves=8,
)
operations = st.builds(
    Operation,
    st.sampled_from(["method", "function"]),
    st.sampled_from(NAMES),
    st.sampled_from(["pop", "builtins.repr", "append"]),
    st.lists(recipes, max_size=2).map(tuple),
)
scenarios = st.builds(
    Scenario,
    shared=st.tuples(*(st.builds(SharedObject, st.just(n), recipes, st.booleans()) for n in NAMES)),
    threads=st.lists(
        st.lists(operations, min_size=1, max_size=3).map(lambda ops: ThreadPlan(tuple(ops))),
        min_size=1,
        max_size=5,
    ).map(tuple),
    iterations=st.integers(1, 1000),
    rounds=st.integers(1, 100),
)


@settings(max_examples=150, deadline=None)
@given(scenarios)
def test_every_candidate_is_valid_and_strictly_simpler(scenario: Scenario) -> None:
    scenario.validate()
    bound = sort_key(scenario)
    for reduction in PASSES:
        for candidate in reduction.generate(scenario):
            candidate.validate()
            assert sort_key(candidate) < bound, reduction.name


@settings(max_examples=50, deadline=None)
@given(scenarios)
def test_always_taking_the_first_candidate_ends(scenario: Scenario) -> None:
    """A minimiser that accepts everything still reaches a fixed point (the key is well-founded)."""
    for _ in range(10_000):
        offered = next((c for p in PASSES for c in p.candidates(scenario)), None)
        if offered is None:
            break
        scenario = offered
    else:
        raise AssertionError("no fixed point after 10 000 accepted candidates")
    assert scenario.thread_count == 1
    assert scenario.iterations == scenario.rounds == 1
