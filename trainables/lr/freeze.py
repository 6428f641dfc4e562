"""Freezing that really freezes: requires_grad off, grads dropped, lr factor 0.

A group is frozen before `unfreeze_at` epochs are done and once `freeze_after` epochs are done.
Its param group stays in the optimizer throughout; torch optimizers skip parameters whose grad is
None, so neither weight decay nor momentum buffers can move a frozen tensor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

#: set on a parameter while a plan keeps it frozen, so that a plan rebuilt on the same model
#: tells it from a parameter the user fixed by design (requires_grad False from the start)
FROZEN_BY_PLAN = "_lr_plan_frozen"


@dataclass(frozen=True)
class FreezeRule:
    """When one group is frozen, in completed epochs."""

    freeze_after: int | None = None
    unfreeze_at: int | None = None

    def frozen(self, epoch: int) -> bool:
        """Whether the group is frozen during epoch `epoch` (0-based count of completed epochs)."""
        if self.unfreeze_at is not None and epoch < self.unfreeze_at:
            return True
        return self.freeze_after is not None and epoch >= self.freeze_after

    def gate(self, epoch: int) -> float:
        """The lr factor of the gate: 0 while frozen, 1 otherwise."""
        return 0.0 if self.frozen(epoch) else 1.0


def set_frozen(params: Iterable[nn.Parameter], frozen: bool) -> None:
    """Freeze (requires_grad off, grad None) or unfreeze a group's parameters (marked as the
    plan's doing, see `FROZEN_BY_PLAN`)."""
    for p in params:
        p.requires_grad_(not frozen)
        setattr(p, FROZEN_BY_PLAN, frozen)
        if frozen:
            p.grad = None
