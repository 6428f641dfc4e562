"""Which trainable a space file names: a registered one, or `package.module:function` (opt-in).

A registered name is looked up in `trainables.registry.TRAINABLES`. An import path names a plain
Ray function trainable; it may carry `groups` (its parameter groups; without them the config's
`groups:` or `layers:` name them, else the whole model is one group `model`) and
`config_problems(config) -> list[Problem]` (default: the LR library's checks of the LR keys) as
attributes. Either way the result has `.function`, `.worker_function` (what to hand to Ray: for a
registered trainable a stand-in that imports it in the worker, so the driver never imports
torch), `.config_problems` and `.groups`.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from trainables.lr.errors import Problem, suggest

_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class CustomTrainable:
    """A trainable given by import path, shaped like a registry entry."""

    name: str
    function: Callable[..., Any]
    config_problems: Callable[[Mapping[str, Any]], list[Problem]]
    groups: tuple[str, ...]
    description: str = "a trainable given by import path"

    @property
    def worker_function(self) -> Callable[..., Any]:
        """What to hand to Ray: the function itself (the driver imported it to check it)."""
        return self.function


def _registry() -> Mapping[str, Any]:
    from trainables.registry import TRAINABLES

    return TRAINABLES


@functools.cache
def resolve_trainable(name: str) -> Any:
    """The registry entry (or a `CustomTrainable`) for `name`; `trainable_problems` first."""
    if not _IMPORT_PATH.match(name):
        return _registry()[name]
    module_name, function_name = name.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    declared = getattr(function, "groups", None)
    groups = tuple(declared) if declared else (_whole_model(),)
    problems = getattr(function, "config_problems", None)
    if problems is None:
        from trainables.lr import lr_config_problems

        def problems(config: Mapping[str, Any]) -> list[Problem]:
            if declared or not isinstance(config, Mapping):
                return lr_config_problems(config, groups)
            return lr_config_problems(*_named_by_config(config, groups))

    return CustomTrainable(name, function, problems, groups)


def _whole_model() -> str:
    from trainables.lr import WHOLE_MODEL

    return WHOLE_MODEL


def _named_by_config(
    config: Mapping[str, Any], groups: tuple[str, ...]
) -> tuple[Mapping[str, Any], tuple[str, ...] | None]:
    """A trainable declaring no groups: the config's `groups:` name them, `layers:` (implied by
    `layer_decay`/`unfreeze`) leave them to the model; else the whole model is one group."""
    if config.get("groups") is not None:
        return config, None
    if any(config.get(k) is not None for k in ("layers", "layer_decay", "unfreeze")):
        return {**config, "layers": config.get("layers") or "auto"}, None
    return config, groups


def group_names(entry: Any) -> tuple[str, ...]:
    """The parameter groups of a resolved trainable."""
    return tuple(entry.groups)


def trainable_problems(name: str) -> list[Problem]:
    """Why `name` does not resolve to a trainable, if it does not."""
    if not _IMPORT_PATH.match(name):
        known = _registry()
        if name in known:
            return []
        fix = f"{suggest(name, known)}, or write 'package.module:function'"
        return [Problem("trainable", f"{name!r} is not a registered trainable", fix)]
    module_name, function_name = name.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        message = f"{name!r}: module {module_name!r} cannot be imported ({error})"
        return [Problem("trainable", message, "check the module path and that it is installed")]
    function = getattr(module, function_name, None)
    if not callable(function):
        public = [n for n in dir(module) if not n.startswith("_")]
        message = f"{name!r}: {module_name} has no function {function_name!r}"
        return [Problem("trainable", message, suggest(function_name, public))]
    return []
