"""Which trainable a space file names: a registered one, or `package.module:function` declared
with `@trainable` (`trainables.declare`).

A registered name is looked up in `trainables.registry.TRAINABLES`; an import path of a
registered trainable's function stands for that entry. Any other import path must name a
function its module declares with `@trainable` (see `trainables.import_path` for what is imported
and when); it may carry `groups` (its parameter groups; without them the config's `groups:` or
`layers:` name them, else the whole model is one group `model`) and
`config_problems(config) -> list[Problem]` (default: the LR library's checks of the LR keys).
Either way the result has `.function`, `.worker_function` (what to hand to Ray: for a registered
trainable a stand-in that imports it in the worker, so the driver never imports torch),
`.config_problems` and `.groups`.
"""

from __future__ import annotations

import itertools
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from trainables.import_path import declared_object, is_import_path
from trainables.lr.errors import ConfigError, Problem, bounded, suggest

#: most parameter groups a trainable may declare
MAX_GROUPS = 1000


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


_RESOLVED: dict[str, Any] = {}


def resolve_trainable(name: str) -> Any:
    """The registry entry (or a `CustomTrainable`) for `name`; `ConfigError` listing its problems
    when it names none (an undeclared or unimportable function, ...)."""
    if name not in _RESOLVED:
        entry, problems = _resolve(name)
        if problems:
            raise ConfigError(problems)
        _RESOLVED[name] = entry
    return _RESOLVED[name]


def trainable_problems(name: str) -> list[Problem]:
    """Why `name` does not resolve to a trainable, if it does not."""
    if name in _RESOLVED:
        return []
    entry, problems = _resolve(name)
    if not problems:
        _RESOLVED[name] = entry
    return problems


def group_names(entry: Any) -> tuple[str, ...]:
    """The parameter groups of a resolved trainable."""
    return tuple(entry.groups)


def _resolve(name: str) -> tuple[Any, list[Problem]]:
    if not is_import_path(name):
        known = _registry()
        if name in known:
            return known[name], []
        fix = f"{suggest(name, known)}, or write 'package.module:function'"
        return None, [Problem("trainable", f"{name!r} is not a registered trainable", fix)]
    function, problems = declared_object(name, "trainable", "trainable")
    registered = _registered_entry(function)
    if registered is not None:
        return registered, []
    if problems:
        return None, problems
    return _custom(name, function)


def _registered_entry(function: Any) -> Any:
    """The registry entry whose trainable `function` is (its module already imported), if any."""
    if function is None:
        return None
    for entry in _registry().values():
        module_name, _, attribute = entry.function_path.partition(":")
        module = sys.modules.get(module_name)
        if module is not None and getattr(module, attribute, None) is function:
            return entry
    return None


def _custom(name: str, function: Any) -> tuple[Any, list[Problem]]:
    """A declared function as a registry-shaped entry, its `groups` and `config_problems`
    checked; the latter guarded so that its failure is a problem, not a crash."""
    declared = getattr(function, "groups", None)
    groups = (_whole_model(),) if declared is None else declared
    if isinstance(groups, str) or not _is_iterable(groups):
        message = f"{name!r} declares groups = {bounded(repr(groups), 100)}"
        fix = "declare a list of group names: @trainable(groups=('embed', 'head'))"
        return None, [Problem("trainable", f"{message}, not a list of names", fix)]
    try:
        groups = tuple(itertools.islice(groups, MAX_GROUPS + 1))
    except Exception as error:
        return None, [_raised(name, error, "its groups")]
    # no groups: a trainable without learning-rate groups (a benchmark function, say)
    if len(groups) > MAX_GROUPS or not all(isinstance(g, str) and g for g in groups):
        message = f"{name!r} declares groups {bounded(repr(groups), 100)}"
        fix = f"declare up to {MAX_GROUPS} non-empty group names"
        return None, [Problem("trainable", f"{message}, not a list of group names", fix)]
    check = getattr(function, "config_problems", None)
    if check is None:
        from trainables.lr import lr_config_problems

        def check(config: Mapping[str, Any]) -> list[Problem]:
            if declared is not None or not isinstance(config, Mapping):
                return lr_config_problems(config, groups)
            return lr_config_problems(*_named_by_config(config, groups))

    elif not callable(check):
        message = f"{name!r} declares config_problems = {bounded(repr(check), 100)}"
        fix = "declare a function config -> list of Problem, or none"
        return None, [Problem("trainable", f"{message}, not a function", fix)]
    return CustomTrainable(name, function, _guarded(name, check), groups), []


def _is_iterable(value: Any) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return True


def _guarded(
    name: str, check: Callable[[Mapping[str, Any]], Any]
) -> Callable[[Mapping[str, Any]], list[Problem]]:
    """`check`, with an exception or a result that is not a list of `Problem`s told as a problem
    of the trainable (located at the line of the user's code that raised)."""

    def config_problems(config: Mapping[str, Any]) -> list[Problem]:
        try:
            found = list(check(config))
        except Exception as error:
            return [_raised(name, error, "its config_problems")]
        if all(isinstance(p, Problem) for p in found):
            return found
        message = f"{name!r}: its config_problems returned {bounded(repr(found), 100)}"
        return [Problem("trainable", message, "return a list of trainables.lr.Problem")]

    return config_problems


def _raised(name: str, error: Exception, what: str) -> Problem:
    """`what` (of the trainable `name`) raised `error`: where, by the innermost frame."""
    frames = traceback.extract_tb(error.__traceback__)[1:]  # past this module's own frame
    where = f" (at {frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    reason = " ".join(f"{type(error).__name__}: {error}".split())
    message = f"{name!r}: {what} raised {bounded(reason, 300)}{bounded(where, 200)}"
    return Problem("trainable", message, f"fix {what.removeprefix('its ')} in that module")


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
