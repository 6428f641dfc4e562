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


def numbers_as_floats(value: Any) -> Any:
    """`value` with every string like `1e-3` turned into the float it spells."""
    if isinstance(value, str) and _EXPONENT_FLOAT.match(value):
        return float(value)
    if isinstance(value, dict):
        return {k: numbers_as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers_as_floats(v) for v in value]
    return value


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping a space file holds; `ConfigError(source=path)` when it cannot be read."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([Problem("", f"cannot be read ({error.strerror})")], source) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        reason = getattr(error, "problem", None) or str(error)
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
    return numbers_as_floats(data)
