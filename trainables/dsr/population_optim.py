"""`StackedOptimizer`: one vectorized Adam/AdamW/SGD step over K members' stacked parameters.

Every stacked tensor has a leading member dimension K. Each member keeps its own real torch
optimizer (inside its `LRPlan`) only as the source of its hyperparameters: per step the lr of each
of its groups and, from the plan, which groups are frozen. The update reproduces torch's
single-tensor math (`torch.optim.Adam`, `AdamW`, `SGD` with momentum, dampening, nesterov) per
member and per group; a frozen group of a member, a member masked out (stopped or failed) get no
update and no state change, as torch skips a parameter whose grad is None. Gradients are clipped
per member over its parameters that have a gradient, as `nn.utils.clip_grad_norm_` does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from trainables.lr.errors import Problem
from trainables.lr.plan import LRPlan

#: optimizer name -> family; members of one population must share a family
FAMILIES = {"Adam": "adam", "AdamW": "adam", "SGD": "sgd"}
#: hyperparameters whose non-default value the stacked step does not reproduce
_UNSUPPORTED = {"amsgrad": False, "maximize": False}


def optimizer_problems(plans: Sequence[LRPlan]) -> list[Problem]:
    """Optimizers the stacked step cannot reproduce, or a population mixing families."""
    problems = []
    families = set()
    for i, plan in enumerate(plans):
        spec = plan.spec.optimizer
        path = f"members[{i}].optimizer"
        if spec.name not in FAMILIES:
            known = ", ".join(sorted(FAMILIES))
            msg = f"'{spec.name}' is not supported in a population (supported: {known})"
            problems.append(Problem(f"{path}.name", msg, "train it alone, without population"))
            continue
        families.add(FAMILIES[spec.name])
        for key, default in _UNSUPPORTED.items():
            if spec.hyperparameters.get(key, default) != default:
                msg = f"is {spec.hyperparameters[key]!r}, but a population supports only {default}"
                problems.append(Problem(f"{path}.hyperparameters.{key}", msg, "leave it out"))
    if len(families) > 1:
        msg = "mixes Adam/AdamW with SGD: one population uses one optimizer family"
        problems.append(Problem("members", msg, "split the members by optimizer"))
    return problems


#: per-group hyperparameters read once from each member's optimizer, by family
_STATIC = {
    "adam": ("weight_decay", "beta1", "beta2", "eps"),
    "sgd": ("weight_decay", "momentum", "dampening", "nesterov"),
}


def _group_value(group: Mapping[str, Any], key: str) -> float:
    if key in ("beta1", "beta2"):
        return float(group["betas"][key == "beta2"])
    return float(group[key])


class StackedOptimizer:
    """Per-member, per-group hyperparameters and state over stacked parameters (see module).

    Call `begin_step(active)` before the backward (it reads each member's lrs and freeze states
    and says whether any member trains), then `step()`. The update runs once over all
    parameters laid side by side, (K, D) with D the number of one member's values, each
    (member, group) value spread over the member's elements of that group. `state[name]` holds
    views of that layout shaped as the parameter: `step`, `a` (exp_avg or the momentum buffer),
    `b` (exp_avg_sq).
    """

    def __init__(
        self,
        params: Mapping[str, torch.Tensor],
        models: Sequence[nn.Module],
        plans: Sequence[LRPlan],
        grad_clip: Sequence[float | None],
    ) -> None:
        self.params = dict(params)
        self.plans = list(plans)
        self.family = FAMILIES[plans[0].spec.optimizer.name]
        first = next(iter(self.params.values()))
        device, dtype = first.device, first.dtype
        self.grad_clip = torch.tensor(
            [math.inf if c is None else c for c in grad_clip], dtype=torch.float64, device=device
        )
        self.clips = any(c is not None for c in grad_clip)
        group_of: list[dict[str, int]] = []  # per member: parameter name -> its param group
        for model, plan in zip(models, plans, strict=True):
            names = {id(p): n for n, p in model.named_parameters()}
            groups = plan.optimizer.param_groups
            group_of.append(
                {names[id(p)]: g for g, group in enumerate(groups) for p in group["params"]}
            )
        self._sizes = [p[0].numel() for p in self.params.values()]
        self._group = torch.cat(
            [
                torch.tensor([g[name] for g in group_of], device=device)[:, None].expand(-1, n)
                for name, n in zip(self.params, self._sizes, strict=True)
            ],
            dim=1,
        )  # (K, D): each element's param group in its member's optimizer
        self._width = max(len(plan.optimizer.param_groups) for plan in self.plans)
        self.static = {
            key: self._spread(
                [[_group_value(g, key) for g in p.optimizer.param_groups] for p in plans]
            )
            for key in _STATIC[self.family]
        }
        self.decoupled = [p.spec.optimizer.name == "AdamW" for p in plans]
        self._decoupled = torch.tensor(self.decoupled, device=device)[:, None]
        shape = (len(self.plans), sum(self._sizes))
        self._buffers = {
            key: torch.zeros(shape, dtype=dtype, device=device) for key in ("step", "a", "b")
        }
        parts = {key: self._split(buffer) for key, buffer in self._buffers.items()}
        self.state = {
            name: {key: part[i].view_as(p) for key, part in parts.items()}
            for i, (name, p) in enumerate(self.params.items())
        }
        self._lr = self.static["weight_decay"]
        self._trains = torch.zeros(shape, dtype=torch.bool, device=device)

    def _split(self, flat: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return flat.split(self._sizes, dim=1)

    def _spread(self, rows: Sequence[Sequence[float]]) -> torch.Tensor:
        """(K, groups) float64 values spread to (K, D) (rows padded: never read)."""
        padded = [list(row) + [0.0] * (self._width - len(row)) for row in rows]
        table = torch.tensor(padded, dtype=torch.float64, device=self._group.device)
        return table.gather(1, self._group)

    def begin_step(self, active: torch.Tensor) -> bool:
        """Read each member's lrs and freeze states now; whether any (member, group) trains."""
        self._lr = self._spread([[g["lr"] for g in p.optimizer.param_groups] for p in self.plans])
        frozen = self._spread(
            [[p.frozen()[g["name"]] for g in p.optimizer.param_groups] for p in self.plans]
        )
        self._trains = active.to(frozen.device)[:, None] & (frozen == 0)
        return bool(self._trains.any())

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """Clip each member's gradients, then update every (member, group) that trains."""
        params = list(self.params.values())
        trains = self._trains
        if any(p.grad is None for p in params):  # no gradient: not updated, as torch skips it
            has_grad = [torch.full_like(p.flatten(1), p.grad is not None).bool() for p in params]
            trains = trains & torch.cat(has_grad, dim=1)
        zero = torch.zeros_like
        grad = torch.cat([(zero(p) if p.grad is None else p.grad).flatten(1) for p in params], 1)
        flat = torch.cat([p.detach().flatten(1) for p in params], dim=1)
        if self.clips:
            grad = self._clip(grad, trains)
        if self.family == "adam":
            new = self._adam(flat, grad, trains)
        else:
            new = self._sgd(flat, grad, trains)
        for p, part in zip(params, self._split(new), strict=True):
            p.copy_(part.view_as(p))

    def _clip(self, grad: torch.Tensor, trains: torch.Tensor) -> torch.Tensor:
        """`clip_grad_norm_` per member, over the parameters it trains."""
        total = torch.where(trains, grad, torch.zeros_like(grad)).square().sum(1).sqrt()
        limit = self.grad_clip.to(total.dtype)
        coef = torch.clamp(limit / (total + 1e-6), max=1.0)
        coef = torch.where(torch.isinf(limit), torch.ones_like(coef), coef)
        return grad * coef[:, None]

    def _adam(self, p: torch.Tensor, grad: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # scalar factors in float64, as torch computes them from Python floats
        buffers, dtype = self._buffers, p.dtype
        lr, wd = self._lr, self.static["weight_decay"]
        beta1, beta2 = self.static["beta1"], self.static["beta2"]
        eps = self.static["eps"].to(dtype)
        step = buffers["step"].double() + 1
        decayed = torch.where(self._decoupled, p * (1 - lr * wd).to(dtype), p)
        grad = torch.where(self._decoupled, grad, grad + wd.to(dtype) * p)
        exp_avg = buffers["a"].lerp(grad, (1 - beta1).to(dtype))
        exp_avg_sq = buffers["b"] * beta2.to(dtype) + (1 - beta2).to(dtype) * grad * grad
        step_size = (lr / (1 - beta1**step)).to(dtype)
        denom = exp_avg_sq.sqrt() / (1 - beta2**step).sqrt().to(dtype) + eps
        new = decayed + (-step_size) * (exp_avg / denom)
        buffers["a"].copy_(torch.where(mask, exp_avg, buffers["a"]))
        buffers["b"].copy_(torch.where(mask, exp_avg_sq, buffers["b"]))
        buffers["step"].copy_(torch.where(mask, step.to(dtype), buffers["step"]))
        return torch.where(mask, new, p)

    def _sgd(self, p: torch.Tensor, grad: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        buffers, dtype = self._buffers, p.dtype
        lr, wd = self._lr.to(dtype), self.static["weight_decay"]
        momentum = self.static["momentum"].to(dtype)
        dampening = self.static["dampening"].to(dtype)
        nesterov = self.static["nesterov"] != 0
        first = buffers["step"] == 0
        d_p = grad + wd.to(dtype) * p
        buf = torch.where(first, d_p, buffers["a"] * momentum + (1 - dampening) * d_p)
        with_momentum = torch.where(nesterov, d_p + momentum * buf, buf)
        d_p = torch.where(momentum != 0, with_momentum, d_p)
        buffers["a"].copy_(torch.where(mask & (momentum != 0), buf, buffers["a"]))
        buffers["step"].copy_(torch.where(mask, buffers["step"] + 1, buffers["step"]))
        return torch.where(mask, p + (-lr) * d_p, p)
