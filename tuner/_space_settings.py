"""The run knobs of a space file: searcher, ASHA, resources per trial, and their checks."""

from __future__ import annotations

import importlib.util
import re

from pydantic import BaseModel, ConfigDict, Field

from trainables.lr.errors import Problem, suggest

#: Optuna samplers that need a package beyond Optuna itself
_EXTRA_PACKAGES = {"cmaes": "cmaes"}
_ADDRESS = re.compile(r"^(auto|local|ray://[^\s:/]+:\d+|[^\s:/]+:\d+)$")
_STORAGE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


#: the seeds every Optuna sampler accepts (numpy's `RandomState`: 0 to 2**32 - 1)
MAX_SEED = 2**32 - 1


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class SearcherSettings(_Settings):
    """Which Optuna sampler proposes trials, and its seed."""

    name: str = "gp_budget"
    seed: int | None = Field(default=0, ge=0, le=MAX_SEED)
    n_startup_trials: int | None = Field(default=None, ge=0)


class AshaSettings(_Settings):
    """ASHA early stopping; `max_t` is always the file's `n_epochs`. `brackets` > 1: Ray's
    asynchronous Hyperband (bracket s starts at `grace_period * reduction_factor**s`)."""

    grace_period: int = Field(default=1, ge=1)
    reduction_factor: float = Field(default=2, gt=1)
    brackets: int = Field(default=1, ge=1, le=8)


class ResourcesSettings(_Settings):
    """Resources per trial; a fractional gpu (< 1) shares one device between trials."""

    cpu: float = Field(default=1, gt=0)
    gpu: float = Field(default=0, ge=0)


def searcher_problems(searcher: SearcherSettings) -> list[Problem]:
    """An unknown sampler name, an option it does not take, or a package it lacks."""
    from tuner.samplers import SAMPLERS

    entry = SAMPLERS.get(searcher.name)
    if entry is None:
        message = f"{searcher.name!r} is not a known sampler"
        return [Problem("searcher.name", message, suggest(searcher.name, SAMPLERS))]
    problems = []
    if searcher.n_startup_trials is not None and not entry.startup:
        problems.append(
            Problem(
                "searcher.n_startup_trials",
                f"is {searcher.n_startup_trials}, but the {searcher.name!r} sampler has no "
                "random start-up phase",
                "remove n_startup_trials or use tpe, gp or cmaes",
            )
        )
    package = _EXTRA_PACKAGES.get(searcher.name)
    if package is not None and importlib.util.find_spec(package) is None:
        problems.append(
            Problem(
                "searcher.name",
                f"the {searcher.name!r} sampler needs the {package!r} package",
                f"pip install {package}, or choose another sampler",
            )
        )
    return problems


def asha_problems(asha: AshaSettings | None, n_epochs: int) -> list[Problem]:
    """ASHA's first rung must come before the end of training."""
    if asha is None or asha.grace_period <= n_epochs:
        return []
    message = f"is {asha.grace_period}, but must be <= n_epochs ({n_epochs})"
    return [Problem("asha.grace_period", message, "lower grace_period or raise n_epochs")]


def resources_problems(resources: ResourcesSettings) -> list[Problem]:
    """Ray shares a GPU only in fractions below one; more than one must be whole devices."""
    if resources.gpu <= 1 or resources.gpu == int(resources.gpu):
        return []
    message = f"is {resources.gpu}, but must be a fraction below 1 or a whole number of GPUs"
    return [Problem("resources.gpu", message, f"use {int(resources.gpu)} or 0.5")]


def address_problems(address: str | None, optuna_storage: str | None) -> list[Problem]:
    """A Ray address Ray can connect to and an Optuna storage given as a URL."""
    problems = []
    if address is not None and not _ADDRESS.match(address):
        problems.append(
            Problem(
                "address",
                f"is {address!r}, but must be 'auto', 'local', 'ray://host:port' or 'host:port'",
                "leave it null for a new local Ray",
            )
        )
    if optuna_storage is not None and not _STORAGE_URL.match(optuna_storage):
        problems.append(
            Problem(
                "optuna_storage",
                f"is {optuna_storage!r}, but must be a storage URL",
                "write e.g. sqlite:///results/optuna.db or postgresql://user@host/db",
            )
        )
    return problems
