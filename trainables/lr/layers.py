"""Layers of any model, bottom (input) to top (head), and layer-wise lr decay.

A model's layers are its groups, in order: the `groups:` keys as written, the `layers:` found in
the model, or its `lr_groups()` keys. The last one is the top (the head, depth 0). `layers:`
discovers them:

- `layers: auto` - one layer per top-level child module that holds parameters, in registration
  order (the order `named_children()` gives);
- `layers: [embed, blocks.*, head]` - module paths, bottom to top; `path.*` stands for every child
  of that module that holds parameters, in order.

A layer's group is named after its module path (`blocks.0`); a path starting with a digit (the
children of an `nn.Sequential`) is put under `layers.` (`layers.0`). Every parameter under a
layer's module belongs to its group. With `layer_decay: d`, each group's lr is multiplied by
`d ** depth`, depth counted from the top.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trainables.lr import _checks
from trainables.lr.errors import ConfigError, Problem, join_path
from trainables.lr.outline import ModuleOutline

if TYPE_CHECKING:
    from torch import nn

AUTO = "auto"
_SHOWN = 40


def depths(names: Sequence[str]) -> dict[str, int]:
    """Each group's depth from the top: the last name has depth 0."""
    return {name: len(names) - 1 - i for i, name in enumerate(names)}


def decay_multipliers(names: Sequence[str], decay: float) -> dict[str, float]:
    """`decay ** depth` for every group, e.g. 0.5 over (a, b, c) -> a 0.25, b 0.5, c 1.0."""
    return {name: decay**depth for name, depth in depths(names).items()}


def resolve_layer_decay(value: Any, problems: list[Problem]) -> float | None:
    """`layer_decay`: None, or a number in (0, 1] (1 leaves every lr as it is)."""
    if value is None:
        return None
    number = _checks.to_float(value)
    if number is None or not 0 < number <= 1:
        problems.append(
            Problem("layer_decay", f"is {value!r}, but must be a number in (0, 1]", "e.g. 0.75")
        )
        return None
    return number


def resolve_layers(value: Any, problems: list[Problem]) -> str | tuple[str, ...] | None:
    """`layers:` as AUTO or a tuple of module paths; None when absent; problems appended."""
    if value is None or value == AUTO:
        return value
    fix = "write layers: auto, or a list of module paths such as [embed, blocks.*, head]"
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        problems.append(Problem("layers", f"is {value!r}, but must be 'auto' or a list", fix))
        return None
    for i, path in enumerate(value):
        bare = path.removesuffix(".*") if isinstance(path, str) else None
        if not bare or any(
            not part.isidentifier() and not part.isdigit() for part in bare.split(".")
        ):
            problems.append(
                Problem(join_path("layers", i), f"is {path!r}, but must be a module path", fix)
            )
    if len(set(map(str, value))) != len(value):
        problems.append(Problem("layers", f"is {list(value)!r}, but lists a module twice", fix))
    return tuple(str(p) for p in value)


def group_name(path: str) -> str:
    """A module path as a group name: itself, or under `layers.` when it starts with a digit."""
    return f"layers.{path}" if path[:1].isdigit() else path


def _holds_parameters(module: nn.Module | ModuleOutline) -> bool:
    if isinstance(module, ModuleOutline):
        return module.holds_parameters
    return next(module.parameters(), None) is not None


def _type_name(model: nn.Module | ModuleOutline) -> str:
    return model.type_name if isinstance(model, ModuleOutline) else type(model).__name__


def _own_groups(model: nn.Module | ModuleOutline) -> tuple[str, ...] | None:
    """The keys of the model's `lr_groups()`, or None when it has none."""
    if isinstance(model, ModuleOutline):
        return model.group_names
    lr_groups = getattr(model, "lr_groups", None)
    return tuple(lr_groups()) if callable(lr_groups) else None


def discover_layers(
    model: nn.Module | ModuleOutline, layers: str | Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """{group name: (glob pattern,)} of every layer, bottom to top; ConfigError names bad paths.

    Parameters count whatever their requires_grad, so a model an earlier plan froze gives the
    same layers. A `ModuleOutline` of the model gives the same result without torch.
    """
    modules = dict(model.named_modules())
    entries = ["*"] if layers == AUTO else list(layers)
    problems: list[Problem] = []
    found: list[str] = []
    for i, entry in enumerate(entries):
        where = "layers" if layers == AUTO else join_path("layers", i)
        expand = entry.endswith("*")
        path = entry.removesuffix("*").removesuffix(".")
        module = modules.get(path)
        if module is None:
            problems.append(_unknown(model, path, where, modules))
            continue
        if expand:
            children = [
                f"{path}.{name}" if path else name
                for name, child in module.named_children()
                if _holds_parameters(child)
            ]
            if not children:
                what = _type_name(model) if not path else f"'{path}'"
                problems.append(Problem(where, f"{what} has no child module holding parameters"))
            found.extend(children)
        elif not _holds_parameters(module):
            problems.append(Problem(where, f"module '{path}' holds no parameters"))
        else:
            found.append(path)
    overlapping = [(a, b) for a in found for b in found if b.startswith(f"{a}.")]
    for outer, inner in overlapping:
        problems.append(
            Problem("layers", f"'{inner}' lies inside '{outer}'", "list each module once")
        )
    if problems:
        raise ConfigError(problems)
    return {group_name(path): (f"{path}.*",) for path in found}


def _unknown(
    model: nn.Module | ModuleOutline,
    path: str,
    where: str,
    modules: Mapping[str, nn.Module | ModuleOutline],
) -> Problem:
    names = [n for n in modules if n]
    shown = ", ".join(names[:_SHOWN]) + (
        f" ... and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    )
    return Problem(
        where,
        f"'{path}' is not a module of {_type_name(model)} (its modules: {shown})",
        "use a path from model.named_modules(), e.g. 'encoder.layers.*'",
    )


def model_groups(
    model: nn.Module | ModuleOutline, config: Mapping[str, Any]
) -> tuple[tuple[str, ...] | None, dict[str, tuple[str, ...]] | None]:
    """The model's group names and, when found from `layers:`, their patterns.

    `model` may be the model's `ModuleOutline` (the same answer, without torch).

    (None, None) when the config's `groups:` patterns name them; a `groups:` function's names
    (from calling it on the model, or as it declares them for an outline). Without `groups:`,
    `layers:` or `lr_groups()`, `layer_decay` or `unfreeze` imply `layers: auto`; otherwise the
    whole model is one group.
    """
    if isinstance(config, Mapping) and isinstance(config.get("groups"), str):
        return _function_groups(model, config["groups"]), None
    if not isinstance(config, Mapping) or config.get("groups") is not None:
        return None, None
    problems: list[Problem] = []
    layers = resolve_layers(config.get("layers"), problems)
    if problems:
        raise ConfigError(problems)
    own = _own_groups(model) if layers is None else None
    if layers is None and own is None and _layer_wise(config):
        layers = AUTO
    if layers is not None:
        patterns = discover_layers(model, layers)
        return tuple(patterns), patterns
    if own is not None:
        return own, None
    from trainables.lr.groups import WHOLE_MODEL

    return (WHOLE_MODEL,), None


def _function_groups(model: nn.Module | ModuleOutline, path: str) -> tuple[str, ...] | None:
    from trainables.lr.groups import resolve_group_function

    problems: list[Problem] = []
    function = resolve_group_function(path, problems)
    if function is None:
        raise ConfigError(problems)
    if isinstance(model, ModuleOutline):
        return function.names
    return tuple(function(model))


def _layer_wise(config: Mapping[str, Any]) -> bool:
    return config.get("layer_decay") is not None or config.get("unfreeze") is not None
