"""What a checkpoint carries beside model and plan: random number generators and user state.

A loop that shuffles with `numpy.random` or `random` resumes exactly only if those generators
are put back too: `rng_state()` captures Python's `random`, numpy's global generator and torch's
CPU generator (and every CUDA device's, once CUDA is in use) as tensors and numbers that
`torch.load(..., weights_only=True)` reads back; `set_rng_state` restores them.

User state (a teacher-forcing alpha a loop anneals, a data generator's counters) is a dict of
tensors, numbers, strings, booleans, None, lists, tuples and dicts: `state_problems` names
anything else before it reaches a checkpoint, so a save never succeeds that a resume refuses.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from trainables.lr.errors import ConfigError, Problem

_PLAIN = (bool, int, float, str, type(None))


def rng_state() -> dict[str, Any]:
    """Every generator a loop may draw from, in a weights_only-safe form."""
    version, words, gauss = random.getstate()
    numpy = np.random.get_state(legacy=False)
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
    return {
        "python": {"version": version, "state": torch.tensor(words), "gauss": gauss},
        "numpy": {
            "bit_generator": numpy["bit_generator"],
            "key": torch.from_numpy(numpy["state"]["key"].astype(np.int64)),
            "pos": int(numpy["state"]["pos"]),
            "has_gauss": int(numpy["has_gauss"]),
            "gauss": float(numpy["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": list(cuda),
    }


def set_rng_state(state: Any) -> None:
    """Put back what `rng_state()` captured (a bare tensor: torch's CPU state of older
    checkpoints). CUDA states are restored for the devices present, when CUDA is available."""
    if isinstance(state, torch.Tensor):
        torch.set_rng_state(state)
        return
    python = state["python"]
    words = tuple(int(w) for w in python["state"].tolist())
    random.setstate((python["version"], words, python["gauss"]))
    numpy = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": numpy["bit_generator"],
            "state": {"key": numpy["key"].numpy().astype(np.uint32), "pos": numpy["pos"]},
            "has_gauss": numpy["has_gauss"],
            "gauss": numpy["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        count = min(len(cuda), torch.cuda.device_count())
        for device in range(count):
            torch.cuda.set_rng_state(cuda[device], device)


def state_problems(value: Any, path: str = "state") -> list[Problem]:
    """Every entry of a user state a weights_only checkpoint cannot hold, by its path."""
    if isinstance(value, torch.Tensor) or type(value) in _PLAIN:
        return []
    if isinstance(value, list | tuple) and type(value) in (list, tuple):
        return [p for i, v in enumerate(value) for p in state_problems(v, f"{path}[{i}]")]
    if type(value) is dict:
        problems = []
        for key, item in value.items():
            if type(key) not in (str, int):
                problems.append(Problem(path, f"has the key {key!r}", "use string keys"))
            problems.extend(state_problems(item, f"{path}[{key!r}]"))
        return problems
    fix = "store tensors, numbers, strings, booleans, None, lists, tuples or dicts"
    if isinstance(value, np.ndarray | np.generic):
        fix = "convert it: torch.from_numpy(array), or .item() for a numpy scalar"
    return [Problem(path, f"is a {type(value).__name__}, which a checkpoint cannot hold", fix)]


def check_state(state: Mapping[str, Any], source: str = "checkpoint") -> None:
    """Raise ConfigError naming every entry of `state` a checkpoint cannot hold."""
    problems = state_problems(dict(state))
    if problems:
        raise ConfigError(problems, source)
