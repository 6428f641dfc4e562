"""A small MLP with a body of three layers and a head, and its pretraining (cached per worker).

Pretraining runs on the pretraining half of the digits; fine-tuning replaces the head.

Its groups are its layers, bottom to top: `body.layer1`, `body.layer2`, `body.layer3`, `head`,
found by `trainables.lr.layers.discover_layers` like any model's.
"""

from __future__ import annotations

import functools
from collections import OrderedDict

import torch
from torch import nn

from trainables.finetune.data import N_CLASSES, N_FEATURES, load_digits_task
from trainables.finetune.outline import FINETUNE_GROUPS, FINETUNE_LAYERS
from trainables.lr.groups import matches
from trainables.lr.layers import discover_layers

__all__ = [
    "FINETUNE_GROUPS",
    "FINETUNE_LAYERS",
    "FinetuneNet",
    "build_finetune_model",
    "pretrained_body",
]


class FinetuneNet(nn.Module):
    """64 -> hidden -> hidden -> hidden/2 (ReLU after each) -> classes."""

    def __init__(self, hidden_dim: int = 64, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        half = max(1, hidden_dim // 2)
        self.body = nn.Sequential(
            OrderedDict(
                layer1=nn.Sequential(nn.Linear(N_FEATURES, hidden_dim), nn.ReLU()),
                layer2=nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.ReLU()),
                layer3=nn.Sequential(nn.Linear(hidden_dim, half), nn.ReLU()),
            )
        )
        self.head = nn.Linear(half, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def lr_groups(self) -> dict[str, list[nn.Parameter]]:
        """The layers as named groups, bottom to top."""
        named = list(self.named_parameters())
        return {
            group: [p for n, p in named if any(matches(pattern, n) for pattern in patterns)]
            for group, patterns in discover_layers(self, FINETUNE_LAYERS).items()
        }


@functools.lru_cache(maxsize=4)
def pretrained_body(
    hidden_dim: int = 64, pretrain_epochs: int = 20, pretrain_seed: int = 0
) -> dict[str, torch.Tensor]:
    """The body's weights after training on the pretraining split (Adam, lr 3e-3, batches 64).

    Cached per process: every trial of a worker starts from the same pretrained body.
    """
    data = load_digits_task().pretrain
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(pretrain_seed)
        net = FinetuneNet(hidden_dim)
    generator = torch.Generator().manual_seed(pretrain_seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(pretrain_epochs):
        order = torch.randperm(len(data.y), generator=generator)
        for i in range(0, len(order), 64):
            batch = order[i : i + 64]
            loss = nn.functional.cross_entropy(net(data.x[batch]), data.y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return {k: v.detach().clone() for k, v in net.body.state_dict().items()}


def build_finetune_model(
    hidden_dim: int, pretrain_epochs: int, pretrain_seed: int, seed: int
) -> FinetuneNet:
    """The pretrained body with a new head initialized from `seed` (the caller's RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = FinetuneNet(hidden_dim)
    if pretrain_epochs > 0:
        net.body.load_state_dict(pretrained_body(hidden_dim, pretrain_epochs, pretrain_seed))
    return net
