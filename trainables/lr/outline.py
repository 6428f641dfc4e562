"""`ModuleOutline`: a model's module tree without torch, to check `layers:` before training.

Finding layers (`trainables.lr.layers.model_groups`) needs only a model's module paths, which of
them hold parameters, its class name and the names its `lr_groups()` returns. An outline holds
exactly that, so a process that only checks configs (a sweep's driver) does not build the model
and does not import torch. `outline_of(model)` reads the outline of a real model, so a test can
check that a written outline still matches its model::

    outline = ModuleOutline("Net", (("embed", ModuleOutline("Linear", params=True)),))
    assert outline_of(Net()) == outline
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModuleOutline:
    """One module: its class name, its children in registration order and its own parameters."""

    type_name: str
    children: tuple[tuple[str, ModuleOutline], ...] = ()
    #: whether parameters sit on this module itself (not only on its children)
    params: bool = False
    #: the keys of the model's `lr_groups()`, in order; None when it has no `lr_groups()`
    group_names: tuple[str, ...] | None = None

    @property
    def holds_parameters(self) -> bool:
        """Whether any parameter sits on this module or below it."""
        return self.params or any(child.holds_parameters for _, child in self.children)

    def named_children(self) -> Iterator[tuple[str, ModuleOutline]]:
        """(name, child) pairs in order, as `nn.Module.named_children`."""
        return iter(self.children)

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, ModuleOutline]]:
        """(dotted path, module) of this module and every one below it, as `nn.Module`'s."""
        yield prefix, self
        for name, child in self.children:
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)


def outline_of(model: nn.Module) -> ModuleOutline:
    """The outline of a real torch module (its `lr_groups()` keys included when it has one)."""
    lr_groups = getattr(model, "lr_groups", None)
    return ModuleOutline(
        type_name=type(model).__name__,
        children=tuple((name, outline_of(child)) for name, child in model.named_children()),
        params=next(model.parameters(recurse=False), None) is not None,
        group_names=tuple(lr_groups()) if callable(lr_groups) else None,
    )
