"""`PopulationRun`: K DSR configs trained at once as one stacked model on the same batches.

Each member is built as a lone `DSRRun` (same seeded init, LR plan, alpha schedule), whose
model, plan and clock stay the member's source of truth: each step's per-group lrs, each epoch's
freeze state and plateau reductions. Training uses the members' parameters stacked along a
leading K dimension (as `torch.func.stack_module_state` stacks them), every member's `gtf_loss`
on the shared batches at once (`population_model`), one backward of the summed member losses and one
`StackedOptimizer` step.

What members may differ in: see `population_settings`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from trainables.dsr import population_model
from trainables.dsr.data import DSRData
from trainables.dsr.population_metrics import PopulationMetrics, long_term_of_members
from trainables.dsr.population_optim import StackedOptimizer, optimizer_problems
from trainables.dsr.population_settings import population_settings
from trainables.dsr.settings import DSRSettings
from trainables.dsr.training import DSRRun
from trainables.lr.errors import ConfigError, TunerError

_FORMAT = "trainables.dsr.population/2"


class PopulationRun:
    """K members' lone runs (plans, clocks, metrics) and their stacked parameters and optimizer.

    `settings` are the shared settings (None: member 0's); each member keeps its own `alpha`
    and `grad_clip`. Raises `ConfigError` when the configs cannot form one population.
    Call `train_epoch()`, then per member `runs[k].plan.step_epoch(...)` as `train_dsr` does;
    `stop(k)` masks a member out, `evaluate(members, long_term)` gives their metrics.
    """

    def __init__(
        self,
        configs: Sequence[Mapping[str, Any]],
        settings: DSRSettings | None,
        data: DSRData,
        device: torch.device,
    ) -> None:
        members = population_settings(configs)
        self.settings = members[0] if settings is None else settings
        self.device = device
        self.runs = [
            DSRRun(dict(c), s, data, device) for c, s in zip(configs, members, strict=True)
        ]
        problems = optimizer_problems([run.plan for run in self.runs])
        if problems:
            raise ConfigError(problems)
        self.size = len(self.runs)
        # stacked as `torch.func.stack_module_state` does, which refuses members whose groups
        # differ in requires_grad (one frozen at the start, one not)
        named = [dict(run.model.named_parameters()) for run in self.runs]
        self.params = {
            n: torch.stack([m[n].detach() for m in named]).requires_grad_(True) for n in named[0]
        }
        self.optimizer = StackedOptimizer(
            self.params,
            [run.model for run in self.runs],
            [run.plan for run in self.runs],
            [s.grad_clip for s in members],
        )
        self._metrics = PopulationMetrics(self.runs[0])
        self.active = torch.ones(self.size, dtype=torch.bool)
        self.failed: dict[int, str] = {}
        self.stopped: set[int] = set()
        self.epoch = 0

    @property
    def steps_per_epoch(self) -> int:
        return self.runs[0].steps_per_epoch

    def members(self) -> list[int]:
        """Indices of the members still training."""
        return [k for k in range(self.size) if bool(self.active[k])]

    def stop(self, member: int) -> None:
        """Mask `member` out from the next step on: its parameters and state no longer change."""
        if bool(self.active[member]):
            self.active[member] = False
            self.stopped.add(member)
            self.sync(member)

    def finish(self, member: int) -> None:
        """Mark a member that trained every epoch as done (no further steps)."""
        if bool(self.active[member]):
            self.active[member] = False
            self.sync(member)

    def _fail(self, member: int, reason: str) -> None:
        self.active[member] = False
        self.failed[member] = reason
        self.sync(member)

    def member_losses(
        self,
        x: torch.Tensor,
        subjects: torch.Tensor,
        alphas: torch.Tensor,
        members: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """The `gtf_loss` of `members` (default: all K, in order) on the same batch.

        `alphas` holds one alpha per member computed; only those members are computed (the
        gradients of the others stay zero).
        """

        params = self.params
        if members is not None and len(members) < self.size:
            index = torch.tensor(list(members), device=self.device)
            params = {n: p[index] for n, p in params.items()}
        return population_model.gtf_losses(params, x, subjects, alphas)

    def train_epoch(self) -> dict[int, float]:
        """One pass for every active member; the mean batch loss of each member that finished it.

        Only the active members are computed. A member whose loss turns non-finite is marked
        failed (`self.failed`) and masked out.
        """
        totals = {k: 0.0 for k in self.members()}
        offsets = torch.arange(self.runs[0].window)
        lead = self.runs[0]
        batches = lead.batches()
        dtype = next(iter(self.params.values())).dtype
        for i, (subjects, starts) in enumerate(batches):
            live = self.members()
            if not live:
                break
            x = lead.train[subjects[:, None], starts[:, None] + offsets].to(self.device)
            alphas = torch.tensor([self.runs[k].alpha() for k in live], dtype=dtype)
            losses = self.member_losses(x, subjects.to(self.device), alphas.to(self.device), live)
            values = dict(zip(live, losses.detach().cpu().tolist(), strict=True))
            for k, value in values.items():
                if not math.isfinite(value):
                    self._fail(
                        k,
                        f"training loss became {value} at epoch {self.epoch + 1} (batch "
                        f"{i + 1} of {len(batches)}): lower the learning rates or set grad_clip",
                    )
                    del totals[k]
            keep = torch.tensor([k not in self.failed for k in live], device=self.device)
            self.optimizer.zero_grad()
            total = torch.where(keep, losses, torch.zeros_like(losses)).sum()
            if self.optimizer.begin_step(self.active):
                total.backward()
                self.optimizer.step()
            for k in self.members():
                self.runs[k].plan.step_batch()
                self.runs[k].step += 1
                totals[k] += values[k]
        self.epoch += 1
        for k in self.members():
            self.runs[k].epoch += 1
        return {k: total / len(batches) for k, total in totals.items()}

    @torch.no_grad()
    def sync(self, member: int) -> None:
        """Copy a member's stacked parameters into its lone model (for metrics and export)."""
        for name, p in self.runs[member].model.named_parameters():
            p.copy_(self.params[name][member])

    def evaluate(self, members: Sequence[int], long_term: bool) -> dict[int, dict[str, float]]:
        """The members' metrics, as `DSRRun.evaluate` gives them (D_stsp, D_H carried)."""
        errors = self._metrics.prediction_errors(self.params)
        if long_term and members:
            generated = self._metrics.generated(self.params, members)
            long_term = long_term_of_members(generated, self.runs[0].test)
            for k, metrics in zip(members, long_term, strict=True):
                self.runs[k].long_term = metrics
        return {k: {"pred_error": errors[k], **self.runs[k].long_term} for k in members}

    def member_state(self, member: int) -> dict[str, torch.Tensor]:
        """A member's current parameters by name (copies)."""
        return {n: p[member].detach().clone() for n, p in self.params.items()}

    def state_dict(self) -> dict[str, Any]:
        """All it takes to continue exactly: stacked parameters and optimizer state, each
        member's lone-run state (plan, clock, alpha, carried metrics, RNG) and its status."""
        for k in range(self.size):
            self.sync(k)
        return {
            "format": _FORMAT,
            "epoch": self.epoch,
            "params": {n: p.detach().clone() for n, p in self.params.items()},
            "optimizer": {
                n: {k: v.clone() for k, v in st.items()} for n, st in self.optimizer.state.items()
            },
            "members": [run.state_dict() for run in self.runs],
            "active": self.active.tolist(),
            "failed": [[k, reason] for k, reason in sorted(self.failed.items())],
            "stopped": sorted(self.stopped),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore `state_dict()` output; refuses a state of another format or population size."""
        if state.get("format") != _FORMAT or len(state["members"]) != self.size:
            raise TunerError(
                f"this checkpoint is not a state of this population ({self.size} members, format "
                f"{_FORMAT}): resume with the same member configs"
            )
        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(state["params"][name])
                for key, value in self.optimizer.state[name].items():
                    value.copy_(state["optimizer"][name][key])
        for run, member in zip(self.runs, state["members"], strict=True):
            run.load_state_dict(member)
        self.active = torch.tensor(state["active"], dtype=torch.bool)
        self.failed = {int(k): str(reason) for k, reason in state["failed"]}
        self.stopped = {int(k) for k in state["stopped"]}
        self.epoch = int(state["epoch"])
