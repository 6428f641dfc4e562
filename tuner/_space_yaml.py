"""Reading a space file: PyYAML's safe loader, with YAML 1.2 numbers, bounded size and nesting,
duplicate keys refused, and located syntax errors.

The loader is `yaml.SafeLoader` (no Python tags, no object construction) with two limits on
composing (nesting depth and node count: 20,000 nested `[` would otherwise exhaust the stack) and
one check between composing and constructing (a key written twice in one mapping, which YAML
forbids and PyYAML lets the last one win).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from trainables.lr.errors import ConfigError, Problem, bounded, join_path
from tuner._space_file import read_text

# YAML 1.1 (PyYAML) reads `1e-3` (no dot in the mantissa) as a string; YAML 1.2 and people
# read it as a number.
_EXPONENT_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


#: most values (mappings, lists and scalars, aliases counted at every use) a space file may hold
MAX_VALUES = 100_000
#: most YAML nodes a space file may be written with (the examples have under 200)
MAX_NODES = 10_000
#: deepest nesting of mappings and lists a space file may have
MAX_DEPTH = 50

_MERGE = "tag:yaml.org,2002:merge"
_BRACKET = re.compile(r"[\[\]{}]")


class _TooBig(Exception):
    """The file nests too deeply, refers to itself, or expands to too many values."""


class _SpaceLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that stops composing past `MAX_DEPTH` levels or `MAX_NODES` nodes."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self.depth += 1
        self.nodes += 1
        if self.depth > MAX_DEPTH or self.nodes > MAX_NODES:
            mark = self.peek_event().start_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}"
            if self.depth > MAX_DEPTH:
                raise _TooBig(f"nests deeper than {MAX_DEPTH} levels (at {where})")
            raise _TooBig(f"holds more than {MAX_NODES} values (at {where})")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def bracket_depth_problem(text: str) -> Problem | None:
    """Flow brackets (`[`, `{`) opened more than `MAX_DEPTH` deep, counted on the text itself.

    PyYAML's scanner takes time quadratic in that depth before any node is composed (20,000
    nested `[` take seconds), so this is checked first. Brackets inside strings count too: a file
    needs more than `MAX_DEPTH` of them left unclosed to be refused.
    """
    depth = 0
    for match in _BRACKET.finditer(text):
        depth = depth + 1 if match.group() in "[{" else max(depth - 1, 0)
        if depth > MAX_DEPTH:
            line = text.count("\n", 0, match.start()) + 1
            message = f"nests deeper than {MAX_DEPTH} levels ('[' and '{{' at line {line})"
            return Problem("", message, "write the settings out plainly, without deep nesting")
    return None


def numbers_as_floats(value: Any) -> Any:
    """`value` with every string like `1e-3` turned into the float it spells.

    Raises `ConfigError` for a structure that refers to itself (`a: &a [*a]`), nests deeper than
    `MAX_DEPTH`, or expands (through YAML aliases) to more than `MAX_VALUES` values.
    """
    budget = [MAX_VALUES]
    try:
        return _convert(value, budget, 0)
    except _TooBig as error:
        raise ConfigError([_too_big(error)]) from None


def _too_big(error: _TooBig) -> Problem:
    fix = "write the settings out plainly, without deep nesting or nested aliases"
    return Problem("", str(error), fix)


def _convert(value: Any, budget: list[int], depth: int) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig(f"holds more than {MAX_VALUES} values once its aliases are expanded")
    if depth > MAX_DEPTH:
        raise _TooBig(f"nests deeper than {MAX_DEPTH} levels (or refers to itself)")
    if isinstance(value, str) and _EXPONENT_FLOAT.match(value):
        return float(value)
    if isinstance(value, dict):
        return {k: _convert(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_convert(v, budget, depth + 1) for v in value]
    return value


def duplicate_keys(loader: yaml.SafeLoader, root: Node) -> list[Problem]:
    """Every key written twice in one mapping of the composed document, by its dotted path.

    Keys are compared as the values they construct to (`1` and `0x1` are one key); keys that
    merge another mapping in (`<<`) may be overridden, as YAML allows.
    """
    problems: list[tuple[int, Problem]] = []
    seen: set[int] = set()
    stack: list[tuple[Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:  # an alias of a node already walked
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            stack += [(item, join_path(path, i)) for i, item in enumerate(node.value)]
        elif isinstance(node, MappingNode):
            lines: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE or not isinstance(key_node, ScalarNode):
                    continue
                key = loader.construct_object(key_node)
                where = join_path(path, str(key))
                line = key_node.start_mark.line + 1
                if key in lines:
                    message = f"is set twice (lines {lines[key]} and {line})"
                    problems.append((line, Problem(where, message, "keep one of them")))
                lines.setdefault(key, line)
                stack.append((value_node, where))
    return [problem for _, problem in sorted(problems, key=lambda item: item[0])]


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping a space file holds; `ConfigError(source=path)` when it cannot be read."""
    source = str(path)
    text = read_text(path)
    too_deep = bracket_depth_problem(text)
    if too_deep is not None:
        raise ConfigError([too_deep], source)
    try:
        data = _load(text)
    except ConfigError as error:
        raise error.with_source(source) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        problem = Problem(
            "", f"is {kind}, but must be a mapping of settings", "start from an example"
        )
        raise ConfigError([problem], source)
    try:
        return numbers_as_floats(data)
    except ConfigError as error:
        raise error.with_source(source) from None


def _load(text: str) -> Any:
    """Compose, check for duplicate keys, construct; every failure as a `ConfigError`."""
    loader = None
    try:
        loader = _SpaceLoader(text)
        root = loader.get_single_node()
        problems = duplicate_keys(loader, root) if root is not None else []
        data = loader.construct_document(root) if root is not None and not problems else None
    except _TooBig as error:
        raise ConfigError([_too_big(error)]) from None
    except yaml.YAMLError as error:
        raise ConfigError([_syntax_problem(error)]) from None
    except (ValueError, TypeError, OverflowError, AttributeError, KeyError) as error:
        # the safe constructor's own failures on a tagged or date-like scalar (`2001-13-45`)
        message = f"holds a value YAML cannot read ({type(error).__name__}: {bounded(error)})"
        raise ConfigError([Problem("", message, "quote it to make it a string")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if problems:
        raise ConfigError(problems)
    return data


def _syntax_problem(error: yaml.YAMLError) -> Problem:
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
    reason = getattr(error, "problem", None) or str(error)
    if isinstance(error, yaml.reader.ReaderError):  # a character YAML does not allow
        where = f"character {error.position + 1}"
        reason = f"unacceptable character {error.character!r}"
    reason = " ".join(str(reason).split())  # one line per problem
    return Problem("", f"is not valid YAML at {where}: {reason}", "fix the YAML syntax there")
