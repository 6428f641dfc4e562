"""Named parameter groups: from a model's `lr_groups()`, a declared function, or name patterns.

Patterns come from `groups:` or from the layers `trainables.lr.layers` finds (`layers:`).
`groups: "pkg.mod:fn"` names a function `model -> {name: [parameters]}` declared with `@groups`
(`trainables.declare`; `@groups(names=(...))` also tells a driver without the model its names).
Every trainable parameter lands in exactly one named group. A pattern is an fnmatch glob over
parameter names (`encoder.*`) or, with the prefix `re:`, a regular expression matched in full.
A parameter whose requires_grad is False when the plan is built (and not because an earlier plan
froze it) is fixed by design: it stays outside the optimizer and the plan never turns its
requires_grad on, whichever group pattern covers it (`without_fixed`). A `groups:` entry covering
only such parameters asks to train them and is refused, naming them. A parameter left out of every
group must have requires_grad False; it stays outside the optimizer, untouched.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainables.import_path import declared_object, is_import_path
from trainables.lr.errors import ConfigError, Problem, bounded, join_path
from trainables.lr.freeze import FROZEN_BY_PLAN

if TYPE_CHECKING:
    from torch import nn

#: the group a model without `lr_groups()` or `groups:` gets: one component without levels
WHOLE_MODEL = "model"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
_SHOWN = 40


@dataclass(frozen=True)
class GroupFunction:
    """`groups: "pkg.mod:fn"`: a declared function `model -> {name: [parameters]}`; `names`
    are the names it declares it returns (None when it declares none)."""

    path: str
    function: Callable[..., Any]
    names: tuple[str, ...] | None

    def __call__(self, model: nn.Module) -> dict[str, list[nn.Parameter]]:
        """The groups of `model`; ConfigError when the function fails or returns something else
        than {declared name: [parameters]}."""
        import torch

        where = f"groups: {self.path!r}"
        try:
            found = self.function(model)
            groups = {name: list(params) for name, params in dict(found).items()}
        except Exception as error:
            reason = bounded(" ".join(f"{type(error).__name__}: {error}".split()), 300)
            raise ConfigError([Problem("groups", f"{self.path!r} raised {reason}")]) from error
        problems = []
        for name, params in groups.items():
            if not isinstance(name, str) or not _NAME.match(name):
                message = f"{where} returned the group name {bounded(repr(name), 80)}"
                problems.append(Problem("groups", message, "name groups 'component[.level]'"))
            elif not all(isinstance(p, torch.nn.Parameter) for p in params):
                message = f"{where} returned {name!r} holding something else than parameters"
                problems.append(Problem("groups", message, "return lists of model parameters"))
        if self.names is not None and tuple(groups) != self.names and not problems:
            message = f"{where} returned {list(groups)}, but declares {list(self.names)}"
            problems.append(Problem("groups", message, "return the declared names, in order"))
        if problems:
            raise ConfigError(problems)
        return groups


def resolve_group_function(config: str, problems: list[Problem]) -> GroupFunction | None:
    """`groups: "pkg.mod:fn"` as a `GroupFunction` (its module imported only when it may be,
    see `trainables.import_path`); None and problems appended when it names none."""
    if not is_import_path(config):
        fix = "write {encoder.shared: ['encoder.*'], ...} or 'package.module:function'"
        problems.append(
            Problem("groups", f"is {config!r}, but must be a mapping or an import path", fix)
        )
        return None
    function, found = declared_object(config, "groups", "groups")
    if found:
        problems.extend(found)
        return None
    names = getattr(function, "group_names", None)
    if names is not None and not (
        isinstance(names, tuple)
        and names
        and all(isinstance(n, str) and _NAME.match(n) for n in names)
    ):
        message = f"{config!r} declares names {bounded(repr(names), 100)}"
        fix = "declare group names 'component[.level]': @groups(names=('body', 'head'))"
        problems.append(Problem("groups", message, fix))
        return None
    return GroupFunction(config, function, names)


def resolve_patterns(config: Any, problems: list[Problem]) -> dict[str, tuple[str, ...]] | None:
    """The `groups:` config as {name: patterns}, or None when absent or a function (see
    `resolve_group_function`); problems appended."""
    if config is None or isinstance(config, str):
        return None
    if not isinstance(config, Mapping) or not config:
        fix = "write {encoder.shared: ['encoder.*'], ...}"
        problems.append(Problem("groups", f"is {config!r}, but must be a non-empty mapping", fix))
        return None
    out: dict[str, tuple[str, ...]] = {}
    for name, patterns in config.items():
        path = join_path("groups", str(name))
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(
                Problem(
                    path,
                    "is not a group name 'component' or 'component.level'",
                    "e.g. encoder.shared",
                )
            )
            continue
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, list | tuple) or not patterns:
            fix = "e.g. ['encoder.*']"
            problems.append(Problem(path, f"is {patterns!r}, but must be a list of patterns", fix))
            continue
        for i, pattern in enumerate(patterns):
            _check_pattern(pattern, join_path(path, i), problems)
        out[name] = tuple(p for p in patterns if isinstance(p, str))
    return out


def _check_pattern(pattern: Any, path: str, problems: list[Problem]) -> None:
    if not isinstance(pattern, str) or not pattern.removeprefix("re:"):
        problems.append(
            Problem(path, f"is {pattern!r}, but must be a non-empty string", "e.g. 'encoder.*'")
        )
    elif pattern.startswith("re:"):
        try:
            re.compile(pattern[3:])
        except re.error as error:
            problems.append(
                Problem(path, f"is {pattern!r}, not a valid regular expression ({error})")
            )


def matches(pattern: str, name: str) -> bool:
    """Whether a parameter name matches a glob, or a `re:` regular expression in full."""
    if pattern.startswith("re:"):
        return re.fullmatch(pattern[3:], name) is not None
    return fnmatch.fnmatchcase(name, pattern)


def resolve_groups(
    model: nn.Module,
    patterns: Mapping[str, tuple[str, ...]] | None,
    function: GroupFunction | None = None,
) -> dict[str, list[nn.Parameter]]:
    """{group name: trainable params}; raises ConfigError naming every stray or double param."""
    named = list(model.named_parameters())
    if patterns is not None:
        groups, problems = _by_patterns(model, named, patterns)
        source = "groups"
    elif function is not None:
        groups, problems, source = function(model), [], f"groups {function.path!r}"
    elif callable(getattr(model, "lr_groups", None)):
        groups = {str(k): list(v) for k, v in model.lr_groups().items()}
        problems, source = [], f"{type(model).__name__}.lr_groups()"
    else:
        return {WHOLE_MODEL: [p for _, p in named if p.requires_grad]}
    owner: dict[int, str] = {}
    name_of = {id(p): n for n, p in named}
    for group, params in groups.items():
        for p in params:
            if id(p) in owner and owner[id(p)] != group:
                param = name_of.get(id(p), "a parameter")
                problems.append(
                    Problem(
                        source,
                        f"parameter '{param}' is in both '{owner[id(p)]}' and '{group}'",
                        "put each parameter in exactly one group",
                    )
                )
            owner.setdefault(id(p), group)
    stray = [n for n, p in named if id(p) not in owner and p.requires_grad]
    if stray:
        problems.append(
            Problem(
                source,
                f"trainable parameters in no group: {', '.join(stray)}",
                "add patterns (or lr_groups entries) covering them, or set requires_grad=False",
            )
        )
    if problems:
        raise ConfigError(problems)
    return {g: list(dict.fromkeys(ps)) for g, ps in groups.items()}


def _by_patterns(
    model: nn.Module, named: list[tuple[str, nn.Parameter]], patterns: Mapping[str, tuple[str, ...]]
) -> tuple[dict[str, list[nn.Parameter]], list[Problem]]:
    groups: dict[str, list[nn.Parameter]] = {name: [] for name in patterns}
    problems = []
    for group, group_patterns in patterns.items():
        for i, pattern in enumerate(group_patterns):
            hits = [p for n, p in named if matches(pattern, n)]
            if not hits:
                shown = ", ".join(n for n, _ in named[:_SHOWN])
                more = f" ... and {len(named) - _SHOWN} more" if len(named) > _SHOWN else ""
                problems.append(
                    Problem(
                        join_path("groups", group, i),
                        f"{pattern!r} matches no parameter of {type(model).__name__} "
                        f"(its parameters: {shown}{more})",
                        "fix the pattern; globs use *, regular expressions start with 're:'",
                    )
                )
            groups[group].extend(hits)
    return groups, problems


def fixed_by_design(model: nn.Module) -> dict[int, str]:
    """{id: name} of the parameters the user fixed: requires_grad False, not frozen by a plan."""
    return {
        id(p): name
        for name, p in model.named_parameters()
        if not p.requires_grad and not getattr(p, FROZEN_BY_PLAN, False)
    }


def without_fixed(
    groups: Mapping[str, list[nn.Parameter]],
    fixed: Mapping[int, str],
    patterns: Mapping[str, tuple[str, ...]] | None,
) -> dict[str, list[nn.Parameter]]:
    """The groups without the parameters fixed by design; ConfigError when a `groups:` entry
    (`patterns`) covers only fixed parameters: the config asks to train what the model fixed."""
    kept = {name: [p for p in params if id(p) not in fixed] for name, params in groups.items()}
    problems = [
        Problem(
            join_path("groups", name),
            "covers only parameters with requires_grad=False, which the plan keeps fixed: "
            + ", ".join(fixed[id(p)] for p in groups[name]),
            "remove the group, or set requires_grad=True on them before build_lr_plan",
        )
        for name in patterns or ()
        if groups[name] and not kept[name]
    ]
    if problems:
        raise ConfigError(problems)
    return kept
