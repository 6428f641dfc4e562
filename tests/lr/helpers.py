"""A tiny model in the seed's group structure (with `lr_groups()`), seeded data, a loop."""

from __future__ import annotations

import torch
from torch import nn

# Distinct base rates per group, so a schedule that wrote one absolute lr everywhere would fail.
HIER = {
    "encoder": {"shared": {"lr": 1e-4}, "subjects": {"lr": 1e-2}},
    "decoder": {"shared": {"lr": 3e-3}},
    "dsr": {"shared": {"lr": 7e-4}, "subjects": {"lr": 2e-2}},
}
BASE = {"encoder.shared": 1e-4, "encoder.subjects": 1e-2, "decoder.shared": 3e-3}
BASE |= {"dsr.shared": 7e-4, "dsr.subjects": 2e-2}


class SeedModel(nn.Module):
    """Encoder (shared map + subject codes), shared decoder, DSR (shared map + subject vectors)."""

    def __init__(self, n_subjects: int = 3, width: int = 4) -> None:
        super().__init__()
        self.encoder = nn.Linear(3, width)
        self.subject_codes = nn.Parameter(torch.randn(n_subjects, width))
        self.decoder = nn.Linear(width, 3)
        self.dsr = nn.Linear(width, width)
        self.subject_vectors = nn.Parameter(torch.randn(n_subjects, width))

    def lr_groups(self) -> dict[str, list[nn.Parameter]]:
        return {
            "encoder.shared": list(self.encoder.parameters()),
            "encoder.subjects": [self.subject_codes],
            "decoder.shared": list(self.decoder.parameters()),
            "dsr.shared": list(self.dsr.parameters()),
            "dsr.subjects": [self.subject_vectors],
        }

    def forward(self, x: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        z = torch.tanh(self.encoder(x) + self.subject_codes[subject])
        z = torch.tanh(self.dsr(z) + self.subject_vectors[subject])
        return self.decoder(z)


def make_model(seed: int = 0) -> SeedModel:
    torch.manual_seed(seed)
    return SeedModel()


def batches(epoch: int, n: int = 3) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The same batches for a given epoch in every run (seeded by the epoch)."""
    g = torch.Generator().manual_seed(1000 + epoch)
    out = []
    for _ in range(n):
        x = torch.randn(8, 3, generator=g)
        subject = torch.randint(0, 3, (8,), generator=g)
        out.append((x, subject, torch.sin(x)))
    return out


def train_epoch(model: SeedModel, plan, epoch: int) -> float:
    """One epoch of plain training through the plan's optimizer; returns the mean loss."""
    total = 0.0
    for x, subject, y in batches(epoch):
        plan.optimizer.zero_grad()
        loss = ((model(x, subject) - y) ** 2).mean()
        loss.backward()
        plan.optimizer.step()
        plan.step_batch()
        total += float(loss.detach())
    return total / 3
