"""Importing on first use: package exports, objects named by import path, and stand-in functions.

A sweep's driver checks configs and hands the trainable to Ray but never trains, so it should not
import torch (most of a second, and memory). Packages export their torch-needing names lazily
(`lazy_exports`), the registry names trainables by import path (`import_object`), and Ray is
handed a `lazy_function`: a stand-in that imports the real function where it is called, in the
worker process.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def import_object(path: str) -> Any:
    """The object at `package.module:name`, e.g. `trainables.dsr.trainable:dsr_trainable`."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def lazy_exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` (PEP 562) importing each of `names` ({name: module}) on first use.

    In a package's `__init__`: `__getattr__ = lazy_exports(__name__, {"Net": "pkg.model"})`.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


@functools.cache
def lazy_function(path: str) -> Callable[..., Any]:
    """A stand-in for the plain (not generator) function at `package.module:name`.

    Each call imports the module (a dictionary lookup once it is imported) and calls the function
    with the same arguments. It carries the function's `__name__`, `__qualname__` and `__doc__`
    (read from the source, without importing it): Ray Tune names trials and their folders after
    the function. cloudpickle pickles it by value, so unpickling it imports nothing: a Ray worker
    imports the real function when it first calls it.
    """
    module, _, name = path.partition(":")

    def stand_in(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    stand_in.__name__ = stand_in.__qualname__ = name
    stand_in.__doc__ = _docstring(module, name)
    return stand_in


def _docstring(module: str, name: str) -> str | None:
    """The docstring of top-level `name` in `module`'s source, without importing the module."""
    spec = importlib.util.find_spec(module)
    origin = getattr(spec, "origin", None)
    if origin is None or not origin.endswith(".py"):
        return None
    tree = ast.parse(Path(origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return ast.get_docstring(node, clean=False)
    return None
