"""Property: every generated broken declaration in a space file is rejected with its path."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from trainables.lr.errors import ConfigError
from tuner.space import parse_space

NAMES = st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True)

BROKEN = [
    ({"uniform": [1.0, 0.5]}, "low < high"),
    ({"log_uniform": [0.0, 1.0]}, "> 0"),
    ({"int": [1, 5], "steps": 2}, "not a known key"),
    ({"uniform": [0, 1], "int": [0, 1]}, "exactly one of"),
    ({"choice": []}, "at least 1 item"),
    ({"int": [0.5, 3]}, "valid integer"),
]


@settings(max_examples=40, deadline=None)
@given(NAMES, st.sampled_from(BROKEN), st.floats(-1.0, 0.0))
def test_every_broken_declaration_is_rejected_with_its_path(name, broken, bad_lr):
    raw, rule = broken
    data = {
        "name": "p",
        "n_epochs": 5,
        "metric": "score",
        "mode": "min",
        "search": {"learning_rate": {"lr": bad_lr}, "settings": {name: raw}},
    }
    try:
        parse_space(data, "space.yaml")
    except ConfigError as error:
        lines = str(error).splitlines()
    else:
        raise AssertionError("a broken space was accepted")
    assert any(
        line.startswith(f"space.yaml: search.settings.{name}") and rule in line for line in lines
    ), lines
    assert any(line.startswith("space.yaml: search.learning_rate.lr is ") for line in lines)
