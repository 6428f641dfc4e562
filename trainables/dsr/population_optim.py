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


def _per_member(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """(K, 1, ..., 1) tensor broadcasting against a stacked parameter."""
    shape = (len(values),) + (1,) * (like.dim() - 1)
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(shape)


class StackedOptimizer:
    """Per-member, per-group hyperparameters and state over stacked parameters (see module)."""

    def __init__(
        self,
        params: Mapping[str, torch.Tensor],
        models: Sequence[nn.Module],
        plans: Sequence[LRPlan],
        grad_clip: Sequence[float | None],
    ) -> None:
        self.params = dict(params)
        self.plans = list(plans)
        self.grad_clip = list(grad_clip)
        self.family = FAMILIES[plans[0].spec.optimizer.name]
        # (member, parameter name) -> index of its param group in the member's optimizer
        self.group_of: list[dict[str, int]] = []
        for model, plan in zip(models, plans, strict=True):
            names = {id(p): n for n, p in model.named_parameters()}
            self.group_of.append(
                {
                    names[id(p)]: g
                    for g, group in enumerate(plan.optimizer.param_groups)
                    for p in group["params"]
                }
            )
        self.decoupled = [p.spec.optimizer.name == "AdamW" for p in plans]
        self.state = {
            name: {
                "step": torch.zeros(p.shape[0], dtype=p.dtype, device=p.device),
                "a": torch.zeros_like(p),
                "b": torch.zeros_like(p),
            }
            for name, p in self.params.items()
        }

    def _hyper(self, name: str, key: str) -> list:
        return [
            plan.optimizer.param_groups[groups[name]][key]
            for plan, groups in zip(self.plans, self.group_of, strict=True)
        ]

    def _updating(self, name: str, active: torch.Tensor) -> torch.Tensor:
        """(K,) bool: members whose group of `name` is trained this step."""
        frozen = [
            plan.frozen()[plan.optimizer.param_groups[groups[name]]["name"]]
            for plan, groups in zip(self.plans, self.group_of, strict=True)
        ]
        return active & ~torch.tensor(frozen, dtype=torch.bool)

    def any_trainable(self, active: torch.Tensor) -> bool:
        """Whether any active member has an unfrozen group (else no backward is needed)."""
        return any(bool(self._updating(name, active).any()) for name in self.params)

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    @torch.no_grad()
    def step(self, active: torch.Tensor) -> None:
        """Clip each member's gradients, then update every (member, group) that is trained."""
        masks = {name: self._updating(name, active) for name in self.params}
        self._clip(masks)
        for name, p in self.params.items():
            if p.grad is None or not bool(masks[name].any()):
                continue
            mask = masks[name].to(p.device).view((-1,) + (1,) * (p.dim() - 1))
            if self.family == "adam":
                self._adam(name, p, mask)
            else:
                self._sgd(name, p, mask)

    def _clip(self, masks: Mapping[str, torch.Tensor]) -> None:
        if all(c is None for c in self.grad_clip):
            return
        limits = [math.inf if c is None else c for c in self.grad_clip]
        norms = []
        for name, p in self.params.items():
            if p.grad is None:
                continue
            norm = torch.linalg.vector_norm(p.grad.flatten(1), dim=1)
            norms.append(torch.where(masks[name].to(p.device), norm, torch.zeros_like(norm)))
        if not norms:
            return
        total = torch.linalg.vector_norm(torch.stack(norms), dim=0)
        limit = torch.tensor(limits, dtype=total.dtype, device=total.device)
        coef = torch.clamp(limit / (total + 1e-6), max=1.0)
        coef = torch.where(torch.isinf(limit), torch.ones_like(coef), coef)
        for p in self.params.values():
            if p.grad is not None:
                p.grad.mul_(coef.view((-1,) + (1,) * (p.dim() - 1)))

    def _adam(self, name: str, p: torch.Tensor, mask: torch.Tensor) -> None:
        state = self.state[name]
        grad = p.grad
        lr = _per_member(self._hyper(name, "lr"), p)
        wd = _per_member(self._hyper(name, "weight_decay"), p)
        betas = self._hyper(name, "betas")
        beta1 = _per_member([b[0] for b in betas], p)
        beta2 = _per_member([b[1] for b in betas], p)
        eps = _per_member(self._hyper(name, "eps"), p)
        decoupled = _per_member([float(d) for d in self.decoupled], p).bool()
        step = state["step"].view_as(lr) + 1
        decayed = torch.where(decoupled, p * (1 - lr * wd), p)
        grad = torch.where(decoupled, grad, grad + wd * p)
        exp_avg = state["a"].lerp(grad, 1 - beta1)
        exp_avg_sq = state["b"] * beta2 + (1 - beta2) * grad * grad
        step_size = lr / (1 - beta1**step)
        denom = exp_avg_sq.sqrt() / (1 - beta2**step).sqrt() + eps
        new = decayed + (-step_size) * (exp_avg / denom)
        p.copy_(torch.where(mask, new, p))
        state["a"].copy_(torch.where(mask, exp_avg, state["a"]))
        state["b"].copy_(torch.where(mask, exp_avg_sq, state["b"]))
        state["step"].copy_(torch.where(mask.view(-1), step.view(-1), state["step"]))

    def _sgd(self, name: str, p: torch.Tensor, mask: torch.Tensor) -> None:
        state = self.state[name]
        lr = _per_member(self._hyper(name, "lr"), p)
        wd = _per_member(self._hyper(name, "weight_decay"), p)
        momentum = _per_member(self._hyper(name, "momentum"), p)
        dampening = _per_member(self._hyper(name, "dampening"), p)
        nesterov = _per_member([float(n) for n in self._hyper(name, "nesterov")], p).bool()
        first = (state["step"] == 0).view_as(lr)
        d_p = p.grad + wd * p
        buf = torch.where(first, d_p, state["a"] * momentum + (1 - dampening) * d_p)
        with_momentum = torch.where(nesterov, d_p + momentum * buf, buf)
        d_p = torch.where(momentum != 0, with_momentum, d_p)
        new = p + (-lr) * d_p
        p.copy_(torch.where(mask, new, p))
        state["a"].copy_(torch.where(mask & (momentum != 0), buf, state["a"]))
        state["step"].copy_(torch.where(mask.view(-1), state["step"] + 1, state["step"]))
