"""Errors that name every problem at once: dotted path, value, rule and fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

_VERB_STARTS = ("is ", "are ", "was ", "has ")
#: most characters of a problem's path, message and fix shown (a hostile file's 5,000-character
#: name is cut, not echoed whole; a message may list a model's parameter names)
MAX_PATH, MAX_TEXT, MAX_FIX = 200, 1000, 400
#: most problems one error lists line by line (then one line says how many more)
MAX_SHOWN = 50
#: most known names a suggestion lists
MAX_KNOWN = 40


def bounded(text: object, limit: int = MAX_TEXT) -> str:
    """`text` on one printable line of at most about `limit` characters.

    Control characters (newlines, terminal escapes) are shown escaped, as `repr` would; a longer
    text is cut, saying how many characters were left out.
    """
    text = str(text)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with user input, located by a dotted path for people."""

    path: str
    message: str
    fix: str | None = None

    def __str__(self) -> str:
        # "a.b is 3, but ..." reads as a sentence; other messages follow the path after a colon
        joiner = " " if self.message.startswith(_VERB_STARTS) else ": "
        message = bounded(self.message)
        text = f"{bounded(self.path, MAX_PATH)}{joiner}{message}" if self.path else message
        return f"{text}: {bounded(self.fix, MAX_FIX)}" if self.fix else text


class TunerError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(TunerError, ValueError):
    """Bad user input: carries every problem found, each on its own line (the first
    `MAX_SHOWN`, then a line saying how many more)."""

    def __init__(self, problems: Sequence[Problem], source: str = "config") -> None:
        self.problems = tuple(problems)
        self.source = source
        where = bounded(source, 4096)  # a file name as given (the system's PATH_MAX)
        lines = [f"{where}: {p}" for p in self.problems[:MAX_SHOWN]]
        if len(self.problems) > MAX_SHOWN:
            more = len(self.problems) - MAX_SHOWN
            lines.append(f"{where}: and {more} more problems: fix the ones above first")
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[tuple[Problem, ...], str]]:
        # pickled by its problems, not its message: the default would pass the message back
        # as `problems`, one character per problem (e.g. across the Ray boundary)
        return type(self), (self.problems, self.source)

    def with_source(self, source: str, prefix: str = "") -> ConfigError:
        """The same problems, attributed to `source` and nested under `prefix`."""
        return ConfigError([nest(p, prefix) for p in self.problems], source)


def nest(problem: Problem, prefix: str) -> Problem:
    """`problem` seen from one level up, under the dotted `prefix`."""
    if not prefix:
        return problem
    path = f"{prefix}.{problem.path}" if problem.path else prefix
    return Problem(path, problem.message, problem.fix)


def join_path(*parts: object) -> str:
    """Dotted path for people; list indices become `[i]`."""
    out = ""
    for part in parts:
        if part == "" or part is None:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def suggest(name: object, known: Iterable[str]) -> str:
    """'did you mean ...? (known: ...)' for an unknown name."""
    known = sorted(known)
    by_lower = {k.lower(): k for k in known}  # case slips ('adamw') first, then spelling
    typed = str(name)[:MAX_PATH].lower()
    close = difflib.get_close_matches(typed, list(by_lower), n=1, cutoff=0.5)
    hint = f"did you mean '{bounded(by_lower[close[0]], MAX_PATH)}'? " if close else ""
    listed = ", ".join(bounded(k, MAX_PATH) for k in known[:MAX_KNOWN])
    more = f" and {len(known) - MAX_KNOWN} more" if len(known) > MAX_KNOWN else ""
    return f"{hint}(known: {listed}{more})"


def pydantic_problems(error: ValidationError, prefix: str = "") -> list[Problem]:
    """One Problem per pydantic error, with the dotted path, the value and the rule."""
    problems = []
    for item in error.errors(include_url=False):
        loc = [p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        path = join_path(prefix, *loc)
        value = item.get("input")
        if item["type"] == "extra_forbidden":
            problems.append(Problem(path, "is not a known key", "remove it or check its spelling"))
        elif item["type"] == "missing":
            problems.append(Problem(path, "is required but missing", "add it"))
        else:
            msg = item["msg"].removeprefix("Value error, ")
            problems.append(Problem(path, f"is {value!r}, but {msg[0].lower()}{msg[1:]}"))
    return problems
