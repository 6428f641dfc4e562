"""The seed's `learning_rate` forms, resolved to one leaf (lr, freeze, schedule) per named group.

Forms: a number (every group; `dsr.subjects` gets `dsr_subject_multiplier` x it), a list
`[general, dsr_subject]`, or a mapping of components, each a leaf `{lr, freeze_after, ...}`
applying to all its levels or `{level: leaf, ...}`. A bare number is accepted as the leaf `{lr: x}`.
A group the mapping leaves out keeps DEFAULT_LR with the number form's rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trainables.lr import _checks
from trainables.lr._leaf import LEAF_KEYS, Leaf, parse_leaf, unknown_level
from trainables.lr.errors import Problem, join_path, suggest

DEFAULT_LR = 1e-3
DEFAULT_DSR_SUBJECT_MULTIPLIER = 10.0
DSR_SUBJECTS = "dsr.subjects"


def split_name(name: str) -> tuple[str, str | None]:
    """'encoder.shared' -> ('encoder', 'shared'); a name without a dot has no level."""
    component, dot, level = name.partition(".")
    return component, (level if dot else None)


def components_of(names: Sequence[str]) -> dict[str, list[str | None]]:
    """Component -> its levels, in the order of `names`."""
    out: dict[str, list[str | None]] = {}
    for name in names:
        component, level = split_name(name)
        out.setdefault(component, []).append(level)
    return out


def _join(component: str, level: str | None) -> str:
    return component if level is None else f"{component}.{level}"


def resolve_leaves(
    value: Any, names: Sequence[str], multiplier: Any, problems: list[Problem]
) -> dict[str, Leaf]:
    """A `Leaf` for every name in `names`, from any `learning_rate` form; problems appended."""
    mult_used = False
    mult = DEFAULT_DSR_SUBJECT_MULTIPLIER
    if multiplier is not None:
        mult = _checks.positive(multiplier, "dsr_subject_multiplier", problems, "10")

    def number_rule(lr: float, source: str) -> dict[str, Leaf]:
        nonlocal mult_used
        mult_used = mult_used or DSR_SUBJECTS in names
        return {n: Leaf(lr * mult if n == DSR_SUBJECTS else lr, source=source) for n in names}

    path = "learning_rate"
    if value is None:
        leaves = number_rule(DEFAULT_LR, path)
    elif _checks.is_number(value):
        leaves = number_rule(_checks.positive(value, path, problems), path)
    elif isinstance(value, list | tuple):
        leaves = _list_form(value, names, problems)
    elif isinstance(value, Mapping):
        leaves = _mapping_form(value, names, problems)
        missing = [n for n in names if n not in leaves]
        defaults = number_rule(DEFAULT_LR, path) if missing else {}
        leaves = {n: leaves[n] if n in leaves else defaults[n] for n in names}
        mult_used = mult_used and DSR_SUBJECTS in missing
    else:
        problems.append(
            Problem(
                path,
                f"is {value!r}, but must be a number, a list [general, dsr_subject] or a mapping "
                "of components",
                "e.g. learning_rate: 1e-3",
            )
        )
        leaves = number_rule(DEFAULT_LR, path)
    if multiplier is not None and not mult_used:
        problems.append(
            Problem(
                "dsr_subject_multiplier",
                f"is {multiplier!r}, but has no effect here: it scales the '{DSR_SUBJECTS}' group "
                "only when learning_rate is a single number (or leaves dsr out)",
                "remove it, or set the dsr subjects' lr in learning_rate directly",
            )
        )
    return leaves


def _list_form(
    value: Sequence[Any], names: Sequence[str], problems: list[Problem]
) -> dict[str, Leaf]:
    path = "learning_rate"
    if len(value) != 2:
        problems.append(
            Problem(
                path,
                f"is {list(value)!r}, but a list must be [general_lr, dsr_subject_lr]",
                "e.g. [1e-3, 1e-2], or a single number",
            )
        )
        return {n: Leaf(DEFAULT_LR, source=path) for n in names}
    general = _checks.positive(value[0], join_path(path, 0), problems)
    subject = _checks.positive(value[1], join_path(path, 1), problems, "1e-2")
    if DSR_SUBJECTS not in names:
        problems.append(
            Problem(
                join_path(path, 1),
                f"is {value[1]!r}, but the model has no '{DSR_SUBJECTS}' group "
                f"(groups: {', '.join(names)})",
                "use a single number, or a mapping of components",
            )
        )
    return {
        n: Leaf(
            subject if n == DSR_SUBJECTS else general,
            source=join_path(path, 1 if n == DSR_SUBJECTS else 0),
        )
        for n in names
    }


def _mapping_form(
    value: Mapping[Any, Any], names: Sequence[str], problems: list[Problem]
) -> dict[str, Leaf]:
    components = components_of(names)
    leaves: dict[str, Leaf] = {}
    for component, body in value.items():
        path = join_path("learning_rate", str(component))
        if component not in components:
            problems.append(
                Problem(path, "is not a component of the model", suggest(component, components))
            )
            continue
        levels = components[component]
        if _checks.is_number(body) or (isinstance(body, Mapping) and set(body) & set(LEAF_KEYS)):
            leaf = parse_leaf(body, path, problems, component, levels)
            if leaf is not None:
                leaves.update({_join(component, level): leaf for level in levels})
            continue
        if not isinstance(body, Mapping) or not body or None in levels:
            problems.append(
                Problem(
                    path,
                    f"is {body!r}, but must be a leaf {{lr: ..., freeze_after: ...}}"
                    + ("" if None in levels else " or a mapping of its levels")
                    + (f" ({', '.join(str(lv) for lv in levels)})" if None not in levels else ""),
                    "e.g. {lr: 1e-3, freeze_after: null}",
                )
            )
            continue
        for level, leaf_body in body.items():
            level_path = join_path(path, str(level))
            if level not in levels:
                problems.append(unknown_level(component, level, levels, level_path))
                continue
            leaf = parse_leaf(leaf_body, level_path, problems)
            if leaf is not None:
                leaves[_join(component, level)] = leaf
    return leaves
