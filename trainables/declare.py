"""Markers by which a user's module declares what a space file may name.

A space file that names `package.module:function` runs code from that module, so only callables
that declare themselves are accepted: a trainable (`@trainable`), a parameter-group function
(`@groups`) or a schedule (`@schedule`). Importing this module imports no torch.

    from trainables.declare import trainable

    @trainable(groups=("embed", "head"))
    def train(config): ...
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar, overload

Kind = Literal["trainable", "groups", "schedule"]
KINDS: tuple[Kind, ...] = ("trainable", "groups", "schedule")
#: the attribute a marker sets on the callable it declares
KIND_ATTRIBUTE = "__lr_tuner_kind__"

F = TypeVar("F", bound=Callable[..., Any])


def _mark(function: F, kind: Kind) -> F:
    if not callable(function):
        raise TypeError(f"@{kind} declares a callable, not {type(function).__name__}")
    setattr(function, KIND_ATTRIBUTE, kind)
    return function


@overload
def trainable(function: F, /) -> F: ...


@overload
def trainable(
    *, groups: Iterable[str] | None = None, config_problems: Callable[..., Any] | None = None
) -> Callable[[F], F]: ...


def trainable(
    function: Any = None,
    /,
    *,
    groups: Iterable[str] | None = None,
    config_problems: Callable[..., Any] | None = None,
) -> Any:
    """Declare a Ray Tune function trainable a space file may name (`trainable: "pkg.mod:fn"`).

    `groups` names its parameter groups (what `search.learning_rate` covers); `config_problems`
    lists a config's problems before Ray starts. Both may also be set as attributes.
    """

    names = None if groups is None else _group_names(groups, "@trainable(groups=...)")

    def declare(fn: F) -> F:
        if names is not None:
            fn.groups = names  # type: ignore[attr-defined]
        if config_problems is not None:
            fn.config_problems = config_problems  # type: ignore[attr-defined]
        return _mark(fn, "trainable")

    return declare if function is None else declare(function)


def _group_names(groups: Iterable[str], where: str) -> tuple[str, ...]:
    if isinstance(groups, str) or not isinstance(groups, Iterable):
        raise TypeError(f"{where} takes a list of names, not {groups!r:.80}")
    names = tuple(groups)
    if not all(isinstance(name, str) and name for name in names):
        raise TypeError(f"{where} takes non-empty names, not {names!r:.80}")
    return names


@overload
def groups(function: F, /) -> F: ...


@overload
def groups(*, names: Iterable[str]) -> Callable[[F], F]: ...


def groups(function: Any = None, /, *, names: Iterable[str] | None = None) -> Any:
    """Declare a function `model -> {group name: [parameters]}` a config may name
    (`groups: "pkg.mod:fn"`).

    `names` lists the names it returns: what `search.learning_rate` covers and the tables show,
    known to a driver that never builds the model. Without them the trainable's own
    `@trainable(groups=...)` name the groups.
    """
    listed = None if names is None else _group_names(names, "@groups(names=...)")
    if listed == ():
        raise TypeError("@groups(names=...) takes at least one name")

    def declare(fn: F) -> F:
        if listed is not None:
            fn.group_names = listed  # type: ignore[attr-defined]
        return _mark(fn, "groups")

    return declare if function is None else declare(function)


def schedule(function: F) -> F:
    """Declare a pure function `progress in [0, 1] -> lr multiplier` a space file may name."""
    return _mark(function, "schedule")


def declared_kind(obj: object) -> str | None:
    """What `obj` declares itself as ('trainable', 'groups', 'schedule'), or None.

    Read without running any of `obj`'s code (`inspect.getattr_static`): a lazy-import stand-in
    or an object whose `__getattr__` does something is not asked.
    """
    kind = inspect.getattr_static(obj, KIND_ATTRIBUTE, None)
    return kind if isinstance(kind, str) and kind in KINDS else None
