"""OPTIMIZERS: the optimizers a config may name, their hyperparameters, and building one.

`optimizer: {name: Adam|AdamW|RAdam|SGD, hyperparameters: {...}}` (Adam by default). Learning
rates never go here: they come from `learning_rate`, per group; a leaf's `weight_decay` overrides
the optimizer's for that group, and a leaf's `optimizer: {betas: [0.9, 0.99]}` its `PER_GROUP`
hyperparameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trainables.lr.errors import Problem, join_path, pydantic_problems, suggest

if TYPE_CHECKING:
    import torch

DEFAULT_OPTIMIZER = "Adam"
#: the hyperparameters a group may set for itself (a leaf's `optimizer`), where its optimizer has
#: them
PER_GROUP = ("betas", "eps", "momentum", "dampening", "nesterov")


#: a decay rate of Adam's moment estimates: in [0, 1), as torch requires
Beta = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weight_decay: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    foreach: bool | None = None
    maximize: bool = False


class _AdamLike(_Params):
    betas: tuple[Beta, Beta] = (0.9, 0.999)
    eps: float = Field(default=1e-8, gt=0)


class AdamParams(_AdamLike):
    amsgrad: bool = False


class AdamWParams(AdamParams):
    weight_decay: float = Field(default=0.01, ge=0, allow_inf_nan=False)


class RAdamParams(_AdamLike):
    decoupled_weight_decay: bool = False


class SGDParams(_Params):
    momentum: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    dampening: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    nesterov: bool = False

    @model_validator(mode="after")
    def _nesterov(self) -> SGDParams:
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening 0 (as torch's SGD does)")
        return self


@dataclass(frozen=True)
class OptimizerEntry:
    """One optimizer a config may name: its class in `torch.optim` and hyperparameters model.

    The class is looked up by name when an optimizer is built, so checking a config (in a
    driver that never trains) does not import torch.
    """

    torch_name: str
    params: type[_Params]

    @property
    def cls(self) -> type[torch.optim.Optimizer]:
        """The torch optimizer class, e.g. `torch.optim.AdamW`."""
        import torch

        return getattr(torch.optim, self.torch_name)


OPTIMIZERS: dict[str, OptimizerEntry] = {
    "Adam": OptimizerEntry("Adam", AdamParams),
    "AdamW": OptimizerEntry("AdamW", AdamWParams),
    "RAdam": OptimizerEntry("RAdam", RAdamParams),
    "SGD": OptimizerEntry("SGD", SGDParams),
}


@dataclass(frozen=True)
class OptimizerSpec:
    """A validated optimizer choice: registry name and its full hyperparameters."""

    name: str = DEFAULT_OPTIMIZER
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)


def resolve_optimizer(
    config: Any, problems: list[Problem], path: str = "optimizer"
) -> OptimizerSpec:
    """The `optimizer` config as an `OptimizerSpec`; problems appended, never raised."""
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        fix = "write {name: Adam, hyperparameters: {...}}"
        problems.append(Problem(path, f"is {config!r}, but must be a mapping", fix))
        return OptimizerSpec()
    for key in config:
        if key not in ("name", "hyperparameters"):
            hint = suggest(key, ("name", "hyperparameters"))
            problems.append(Problem(join_path(path, str(key)), "is not a known key", hint))
    name = config.get("name", DEFAULT_OPTIMIZER)
    entry = OPTIMIZERS.get(name) if isinstance(name, str) else None
    if entry is None:
        problems.append(
            Problem(
                join_path(path, "name"),
                f"{name!r} is not a known optimizer",
                suggest(name, OPTIMIZERS),
            )
        )
        return OptimizerSpec()
    hyper = config.get("hyperparameters") or {}
    hp_path = join_path(path, "hyperparameters")
    if not isinstance(hyper, Mapping):
        problems.append(Problem(hp_path, f"is {hyper!r}, but must be a mapping"))
        return OptimizerSpec(name)
    if "lr" in hyper:
        problems.append(
            Problem(
                join_path(hp_path, "lr"),
                "is not an optimizer setting here: learning rates come from learning_rate",
                "remove it and set learning_rate",
            )
        )
        hyper = {k: v for k, v in hyper.items() if k != "lr"}
    known = entry.params.model_fields
    for key in hyper:
        if key not in known:
            problems.append(
                Problem(join_path(hp_path, str(key)), "is not a known key", suggest(key, known))
            )
    try:
        params = entry.params.model_validate({k: v for k, v in hyper.items() if k in known})
    except ValidationError as error:
        problems.extend(pydantic_problems(error, hp_path))
        return OptimizerSpec(name)
    return OptimizerSpec(name, params.model_dump())


def resolve_group_hyperparameters(
    config: Any, spec: OptimizerSpec, problems: list[Problem], path: str
) -> dict[str, Any]:
    """A leaf's `optimizer` (its group's hyperparameters over `spec`'s), validated as `spec`'s
    optimizer validates its own; {} when absent; problems appended, never raised."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        fix = "write e.g. {betas: [0.9, 0.99]}"
        problems.append(Problem(path, f"is {config!r}, but must be a mapping", fix))
        return {}
    entry = OPTIMIZERS[spec.name]
    allowed = [key for key in PER_GROUP if key in entry.params.model_fields]
    own = {}
    for key, value in config.items():
        if key in allowed:
            own[key] = value
        elif key in ("lr", "weight_decay"):
            fix = f"set it as the leaf's own {key}, beside optimizer"
            problems.append(Problem(join_path(path, str(key)), "is not set here", fix))
        else:
            message = f"is not a per-group hyperparameter of {spec.name}"
            problems.append(Problem(join_path(path, str(key)), message, suggest(key, allowed)))
    try:
        params = entry.params.model_validate({**spec.hyperparameters, **own})
    except ValidationError as error:
        problems.extend(pydantic_problems(error, path))
        return {}
    return {key: getattr(params, key) for key in own}


def build_optimizer(
    spec: OptimizerSpec, groups: Sequence[Mapping[str, Any]]
) -> torch.optim.Optimizer:
    """The torch optimizer over `groups` (each a param-group dict: params, name, lr, ...)."""
    entry = OPTIMIZERS[spec.name]
    kwargs = _supported(entry, dict(spec.hyperparameters))
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    return entry.cls([dict(g) for g in groups], **kwargs)


def _supported(entry: OptimizerEntry, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` less the settings the installed torch's optimizer does not take while they
    hold their default (e.g. RAdam's `maximize`, new in torch 2.3); a non-default one it does
    not take is an error naming the torch version."""
    import inspect

    import torch

    accepted = inspect.signature(entry.cls.__init__).parameters
    defaults = entry.params.model_fields
    out = {}
    for key, value in kwargs.items():
        if key in accepted:
            out[key] = value
        elif value != defaults[key].default:
            raise ValueError(
                f"optimizer.hyperparameters.{key} is {value!r}, but torch {torch.__version__}'s "
                f"{entry.torch_name} has no such setting: upgrade torch or remove it"
            )
    return out
