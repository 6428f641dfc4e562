"""Reading a space file: `yaml.safe_load`, with YAML 1.2 numbers and located syntax errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from trainables.lr.errors import ConfigError, Problem

# YAML 1.1 (PyYAML) reads `1e-3` (no dot in the mantissa) as a string; YAML 1.2 and people
# read it as a number.
_EXPONENT_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


#: most values (mappings, lists and scalars, aliases counted at every use) a space file may hold
MAX_VALUES = 100_000
#: deepest nesting of mappings and lists a space file may have
MAX_DEPTH = 50


class _TooBig(Exception):
    """The file nests too deeply, refers to itself, or expands to too many values."""


def numbers_as_floats(value: Any) -> Any:
    """`value` with every string like `1e-3` turned into the float it spells.

    Raises `ConfigError` for a structure that refers to itself (`a: &a [*a]`), nests deeper than
    `MAX_DEPTH`, or expands (through YAML aliases) to more than `MAX_VALUES` values.
    """
    budget = [MAX_VALUES]
    try:
        return _convert(value, budget, 0)
    except _TooBig as error:
        fix = "write the settings out plainly, without self-referring or nested aliases"
        raise ConfigError([Problem("", str(error), fix)]) from None


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


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping a space file holds; `ConfigError(source=path)` when it cannot be read."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([Problem("", f"cannot be read ({error.strerror})")], source) from None
    except UnicodeDecodeError as error:
        message = f"is not UTF-8 text (byte {error.start}: {error.reason})"
        raise ConfigError([Problem("", message, "save it as UTF-8 YAML")], source) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        reason = getattr(error, "problem", None) or str(error)
        if isinstance(error, yaml.reader.ReaderError):  # a character YAML does not allow
            where = f"character {error.position + 1}"
            reason = f"unacceptable character {error.character!r}"
        reason = " ".join(str(reason).split())  # one line per problem
        fix = "fix the YAML syntax there"
        raise ConfigError(
            [Problem("", f"is not valid YAML at {where}: {reason}", fix)], source
        ) from None
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
