"""Properties of the scenario codec over generated scenarios."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from threadstorm.scenario.codec import dumps, loads
from threadstorm.scenario.model import (
    BytesLit,
    Call,
    Collection,
    Lit,
    Operation,
    Recipe,
    Ref,
    Scenario,
    SharedObject,
    ThreadPlan,
)
from threadstorm.scenario.simplicity import sort_key

literals = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=20),
    st.floats(allow_nan=False),
).map(Lit)
leaves: st.SearchStrategy[Recipe] = st.one_of(
    literals,
    st.binary(max_size=10).map(BytesLit),
    st.sampled_from(["builtins.int", "typing.Any", "collections.deque"]).map(Ref),
)
recipes = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(
            Collection,
            st.sampled_from(["list", "tuple", "set", "frozenset"]),
            st.lists(inner, max_size=4).map(tuple),
        ),
        st.builds(
            Call,
            st.sampled_from(["builtins.list", "builtins.tuple"]).map(Ref),
            st.lists(inner, max_size=2).map(tuple),
        ),
    ),
    max_leaves=12,
)
operations = st.builds(
    Operation,
    st.sampled_from(["method", "function", "getattr"]),
    st.just("obj"),
    st.sampled_from(["pop", "builtins.repr", "__parameters__"]),
    st.lists(recipes, max_size=2).map(tuple),
)
scenarios = st.builds(
    Scenario,
    shared=st.tuples(st.builds(SharedObject, st.just("obj"), recipes, st.booleans())),
    threads=st.lists(
        st.lists(operations, min_size=1, max_size=3).map(lambda ops: ThreadPlan(tuple(ops))),
        min_size=1,
        max_size=4,
    ).map(tuple),
    iterations=st.integers(1, 1000),
    rounds=st.integers(1, 100),
)


@given(scenarios)
def test_json_round_trip(scenario: Scenario) -> None:
    assert loads(dumps(scenario)) == scenario


@given(scenarios)
def test_dropping_a_thread_is_simpler(scenario: Scenario) -> None:
    if scenario.thread_count > 1:
        smaller = Scenario(
            shared=scenario.shared,
            threads=scenario.threads[1:],
            iterations=scenario.iterations,
            rounds=scenario.rounds,
        )
        assert sort_key(smaller) < sort_key(scenario)
