"""TRAINABLES: every entry is consistent and its problems function works before Ray starts."""

from __future__ import annotations

import pytest

from trainables.dsr import dsr_config_problems, dsr_trainable
from trainables.lr import SEED_GROUPS
from trainables.registry import TRAINABLES


@pytest.mark.parametrize("name", sorted(TRAINABLES))
def test_entry_is_consistent(name: str) -> None:
    entry = TRAINABLES[name]
    assert entry.name == name
    assert callable(entry.function) and entry.description
    assert entry.config_problems({}) == []
    assert entry.config_problems({"no_such_key": 1})[0].path == "no_such_key"
    assert len(set(entry.groups)) == len(entry.groups) > 0


def test_dsr_entry() -> None:
    entry = TRAINABLES["dsr"]
    assert entry.function is dsr_trainable
    assert entry.config_problems is dsr_config_problems
    assert entry.groups == tuple(SEED_GROUPS)
