"""The object a config names as `package.module:function`, imported only when it may be.

Used for every key that names code: `trainable`, `groups` and a schedule's `name`. A module named
in a space file is code: importing it runs its top level. So the name is checked
first without importing anything: a standard-library or built-in module (`os:system`,
`subprocess:run`, `builtins:exec`, `logging.config:dictConfig`) is refused as written, and so is a
top-level package that cannot be found. Otherwise the module is imported (its parent packages
first, as Python does), and a failure there (a syntax error, an exception at import, a missing
dependency) becomes a problem naming the module's own error line. The named object must then
declare itself what the key needs (`trainables.declare`: `@trainable`, `@groups`, `@schedule`).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import traceback
from typing import Any

from trainables.declare import declared_kind
from trainables.lr.errors import Problem, bounded

IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")

_FIX = "decorate the function with @{kind} (from trainables.declare import {kind})"


def is_import_path(name: str) -> bool:
    """Whether `name` is written as `package.module:function`."""
    return bool(IMPORT_PATH.match(name))


def declared_object(name: str, kind: str, path: str) -> tuple[Any, list[Problem]]:
    """The object `name` (`package.module:function`) names, imported, if it declares itself a
    `kind`; else None and the problems, located at the file's dotted `path`."""
    module_name, attribute = name.split(":")
    refused = refused_unimported(name, module_name, kind, path)
    if refused:
        return None, refused
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and (module_name + ".").startswith(error.name + "."):
            message = f"{name!r}: module {error.name!r} cannot be found"
            return None, [Problem(path, message, "check the module path and that it is installed")]
        return None, [_failure(name, f"importing {module_name}", path, error)]
    except (Exception, SystemExit) as error:  # the module's own code failed
        return None, [_failure(name, f"importing {module_name}", path, error)]
    try:
        obj = getattr(module, attribute, None)
        found = declared_kind(obj) if obj is not None else None
    except Exception as error:  # a module `__getattr__` or an object's that raises
        return None, [_failure(name, f"reading {attribute} of {module_name}", path, error)]
    if found == kind:
        return obj, []
    return obj, [_undeclared(name, module, attribute, obj, kind, path)]


def refused_unimported(name: str, module_name: str, kind: str, path: str) -> list[Problem]:
    """Why `module_name` is refused before it is imported: a standard-library or built-in module,
    or a top-level package that is not there. Finding a top-level package imports nothing."""
    top = module_name.split(".")[0]
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        message = f"{name!r} names the standard-library module {top!r}, which declares nothing"
        fix = "use a module of your own (not named like a standard-library one) and "
        fix += _FIX.format(kind=kind)
        return [Problem(path, message, fix)]
    try:
        found = top in sys.modules or importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        message = f"{name!r}: module {top!r} cannot be found"
        fix = "check the module path, and run from where it can be imported (or install it)"
        return [Problem(path, message, fix)]
    return []


def _undeclared(name: str, module: Any, attribute: str, obj: Any, kind: str, path: str) -> Problem:
    try:  # the module's own names only: `dir` and `getattr` would run a lazy `__getattr__`
        own = dict(vars(module))
    except TypeError:  # a module that replaced itself in `sys.modules` by another object
        own = {}
    declared = sorted(n for n, value in own.items() if _is_declared(value, kind))
    listed = ", ".join(bounded(n, 60) for n in declared[:10]) or "none"
    if obj is None:
        message = f"{name!r}: {name.split(':')[0]} has no {attribute!r}"
        return Problem(path, message, f"its @{kind} functions: {listed}")
    if not callable(obj):
        message = f"{name!r} is not a function (its type: {type(obj).__name__})"
        return Problem(path, message, f"its @{kind} functions: {listed}")
    noun = "groups function" if kind == "groups" else kind
    message = f"{name!r} does not declare itself a {noun}"
    registered = ", or name a registered one" if kind != "groups" else ""
    return Problem(path, message, _FIX.format(kind=kind) + registered)


def _is_declared(obj: Any, kind: str) -> bool:
    try:
        return declared_kind(obj) == kind
    except Exception:  # an attribute that raises on access declares nothing
        return False


def _failure(name: str, doing: str, path: str, error: BaseException) -> Problem:
    """A problem naming what failed in the module and where: its own file and line."""
    said = error.msg if isinstance(error, SyntaxError) else error  # without its location
    reason = bounded(" ".join(f"{type(error).__name__}: {said}".split()), 300)
    if isinstance(error, SyntaxError):
        where = f"{error.filename}, line {error.lineno}"
    else:
        frames = traceback.extract_tb(error.__traceback__)
        own = [f for f in frames if f.name == "<module>" and not f.filename.startswith("<")]
        frame = (own or frames or [None])[-1]
        where = f"{frame.filename}, line {frame.lineno}" if frame else "unknown"
    message = f"{name!r}: {doing} failed with {reason} (at {bounded(where, 200)})"
    return Problem(path, message, "fix that module (it is imported to check the space file)")
