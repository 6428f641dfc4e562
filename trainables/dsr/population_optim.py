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
    and says whether any member trains), then `step()`.
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
        device = next(iter(self.params.values())).device
        self.grad_clip = torch.tensor(
            [math.inf if c is None else c for c in grad_clip], dtype=torch.float64, device=device
        )
        self.clips = any(c is not None for c in grad_clip)
        # (parameter name) -> (K,) index of its param group in each member's optimizer
        group_of: list[dict[str, int]] = []
        for model, plan in zip(models, plans, strict=True):
            names = {id(p): n for n, p in model.named_parameters()}
            groups = plan.optimizer.param_groups
            group_of.append(
                {names[id(p)]: g for g, group in enumerate(groups) for p in group["params"]}
            )
        self.index = {
            name: torch.tensor([g[name] for g in group_of], device=device) for name in self.params
        }
        self._members = torch.arange(len(self.plans), device=device)
        self._width = max(len(plan.optimizer.param_groups) for plan in self.plans)
        self.static = {
            key: self._table(
                [[_group_value(g, key) for g in p.optimizer.param_groups] for p in plans]
            )
            for key in _STATIC[self.family]
        }
        self.decoupled = [p.spec.optimizer.name == "AdamW" for p in plans]
        self._decoupled = torch.tensor(self.decoupled, device=device)
        self.state = {
            name: {
                "step": torch.zeros(p.shape[0], dtype=p.dtype, device=p.device),
                "a": torch.zeros_like(p),
                "b": torch.zeros_like(p),
            }
            for name, p in self.params.items()
        }
        self._lr = self.static["weight_decay"]
        self._masks: dict[str, torch.Tensor] = {}

    def _table(self, rows: Sequence[Sequence[float]]) -> torch.Tensor:
        """(K, groups) float64 table, rows padded (a member with fewer groups never reads them)."""
        padded = [list(row) + [0.0] * (self._width - len(row)) for row in rows]
        return torch.tensor(padded, dtype=torch.float64, device=self._members.device)

    def _of(self, table: torch.Tensor, name: str) -> torch.Tensor:
        """The (K, 1, ..., 1) float64 values of parameter `name`'s group in each member."""
        values = table[self._members, self.index[name]]
        return values.view((-1,) + (1,) * (self.params[name].dim() - 1))

    def begin_step(self, active: torch.Tensor) -> bool:
        """Read each member's lrs and freeze states now; whether any (member, group) trains."""
        self._lr = self._table([[g["lr"] for g in p.optimizer.param_groups] for p in self.plans])
        frozen = self._table(
            [[p.frozen()[g["name"]] for g in p.optimizer.param_groups] for p in self.plans]
        )
        trains = active.to(frozen.device)[:, None] & (frozen == 0)
        self._masks = {name: trains[self._members, self.index[name]] for name in self.params}
        return any(bool(mask.any()) for mask in self._masks.values())

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """Clip each member's gradients, then update every (member, group) that trains."""
        if self.clips:
            self._clip()
        for name, p in self.params.items():
            mask = self._masks[name]
            if p.grad is None or not bool(mask.any()):
                continue
            mask = mask.view((-1,) + (1,) * (p.dim() - 1))
            if self.family == "adam":
                self._adam(name, p, mask)
            else:
                self._sgd(name, p, mask)

    def _clip(self) -> None:
        """`clip_grad_norm_` per member, over the parameters it has gradients for."""
        norms = []
        for name, p in self.params.items():
            if p.grad is not None:
                norm = torch.linalg.vector_norm(p.grad.flatten(1), dim=1)
                norms.append(torch.where(self._masks[name], norm, torch.zeros_like(norm)))
        if not norms:
            return
        total = torch.linalg.vector_norm(torch.stack(norms), dim=0)
        limit = self.grad_clip.to(total.dtype)
        coef = torch.clamp(limit / (total + 1e-6), max=1.0)
        coef = torch.where(torch.isinf(limit), torch.ones_like(coef), coef)
        for p in self.params.values():
            if p.grad is not None:
                p.grad.mul_(coef.view((-1,) + (1,) * (p.dim() - 1)))

    def _adam(self, name: str, p: torch.Tensor, mask: torch.Tensor) -> None:
        # scalar factors in float64, as torch computes them from Python floats
        state, grad, dtype = self.state[name], p.grad, p.dtype
        lr, wd = self._of(self._lr, name), self._of(self.static["weight_decay"], name)
        beta1, beta2 = self._of(self.static["beta1"], name), self._of(self.static["beta2"], name)
        eps = self._of(self.static["eps"], name).to(dtype)
        decoupled = self._decoupled.view_as(lr)
        step = state["step"].view_as(lr).double() + 1
        decayed = torch.where(decoupled, p * (1 - lr * wd).to(dtype), p)
        grad = torch.where(decoupled, grad, grad + wd.to(dtype) * p)
        exp_avg = state["a"].lerp(grad, (1 - beta1).to(dtype))
        exp_avg_sq = state["b"] * beta2.to(dtype) + (1 - beta2).to(dtype) * grad * grad
        step_size = (lr / (1 - beta1**step)).to(dtype)
        denom = exp_avg_sq.sqrt() / (1 - beta2**step).sqrt().to(dtype) + eps
        new = decayed + (-step_size) * (exp_avg / denom)
        p.copy_(torch.where(mask, new, p))
        state["a"].copy_(torch.where(mask, exp_avg, state["a"]))
        state["b"].copy_(torch.where(mask, exp_avg_sq, state["b"]))
        state["step"].copy_(torch.where(mask.view(-1), step.view(-1).to(dtype), state["step"]))

    def _sgd(self, name: str, p: torch.Tensor, mask: torch.Tensor) -> None:
        state, dtype = self.state[name], p.dtype
        lr, wd = self._of(self._lr, name).to(dtype), self._of(self.static["weight_decay"], name)
        momentum = self._of(self.static["momentum"], name).to(dtype)
        dampening = self._of(self.static["dampening"], name).to(dtype)
        nesterov = self._of(self.static["nesterov"], name) != 0
        first = (state["step"] == 0).view_as(lr)
        d_p = p.grad + wd.to(dtype) * p
        buf = torch.where(first, d_p, state["a"] * momentum + (1 - dampening) * d_p)
        with_momentum = torch.where(nesterov, d_p + momentum * buf, buf)
        d_p = torch.where(momentum != 0, with_momentum, d_p)
        new = p + (-lr) * d_p
        p.copy_(torch.where(mask, new, p))
        state["a"].copy_(torch.where(mask & (momentum != 0), buf, state["a"]))
        state["step"].copy_(torch.where(mask.view(-1), state["step"] + 1, state["step"]))
