"""Property tests: any depth, decay and timetable follow their closed forms in a real plan; every
bad `layer_decay`/`unfreeze` value is named by its path."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from trainables.lr import build_lr_plan, lr_config_problems


def stack(n: int) -> nn.Sequential:
    return nn.Sequential(*(nn.Linear(2, 2) for _ in range(n)))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=6),
    decay=st.floats(min_value=0.05, max_value=1.0),
    last_n=st.integers(min_value=1, max_value=7),
    every=st.integers(min_value=1, max_value=4),
    lr=st.floats(min_value=1e-5, max_value=1.0),
)
def test_any_stack_follows_decay_and_timetable(
    n: int, decay: float, last_n: int, every: int, lr: float
) -> None:
    config = {
        "learning_rate": lr,
        "layer_decay": decay,
        "unfreeze": {"last_n": last_n, "every": every},
    }
    n_epochs = 12
    plan = build_lr_plan(stack(n), config, n_epochs=n_epochs)
    names = [f"layers.{i}" for i in range(n)]
    assert list(plan.group_names) == names
    for epoch in range(n_epochs):
        for i, name in enumerate(names):
            depth = n - 1 - i
            start = 0 if depth < last_n else (depth - last_n + 1) * every
            expected = 0.0 if epoch < start else lr * decay**depth
            assert abs(plan.lrs()[name] - expected) <= 1e-12 * expected, (name, epoch)
            assert plan.frozen()[name] == (epoch < start)
        plan.step_epoch(train_loss=1.0)


bad_numbers = st.one_of(
    st.floats(max_value=0.0),
    st.floats(min_value=1.0, exclude_min=True),
    st.just(float("nan")),
    st.text(max_size=3),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
bad_counts = st.one_of(
    st.integers(max_value=0), st.floats(), st.booleans(), st.text(max_size=2), st.none()
)


@settings(max_examples=60, deadline=None)
@given(value=bad_numbers)
def test_every_bad_layer_decay_is_named(value) -> None:
    if isinstance(value, str):
        try:
            if 0 < float(value) <= 1:
                return  # YAML leaves e.g. '1e-1' a string; it is a valid number
        except ValueError:
            pass
    problems = lr_config_problems({"layer_decay": value}, ("a", "b"))
    assert [p.path for p in problems] == ["layer_decay"], problems


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(["last_n", "every"]), value=bad_counts)
def test_every_bad_unfreeze_count_is_named(key: str, value) -> None:
    problems = lr_config_problems({"unfreeze": {key: value}}, ("a", "b"))
    assert [p.path for p in problems] == [f"unfreeze.{key}"], problems
