"""`HierarchicalDSR`: subject-aware encoder, shared linear decoder, hierarchical shallow PLRNN.

The latent dynamics of subject s are `z' = A_s * z + W1_s relu(W2_s z + h2_s) + h1_s`, where every
subject parameter is a group-level bias plus a shared linear projection of the subject's vector
(Brenner et al.'s hierarchical PLRNN). Parameters fall into the five groups of `lr_groups()`:

- `encoder.shared`: the observation -> latent map; `encoder.subjects`: per-subject offset and
  log-scale applied to the observations before it;
- `decoder.shared`: the latent -> observation map;
- `dsr.shared`: projections and biases; `dsr.subjects`: the subject vectors.
"""

from __future__ import annotations

import math

import torch
from torch import nn

PLRNN_PARTS = ("A", "W1", "W2", "h1", "h2")


class SubjectEncoder(nn.Module):
    """`z = W ((x - offset_s) * exp(-log_scale_s)) + b`: subject normalization, shared map."""

    def __init__(self, n_subjects: int, obs_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.offset = nn.Parameter(torch.zeros(n_subjects, obs_dim))
        self.log_scale = nn.Parameter(torch.zeros(n_subjects, obs_dim))
        self.map = nn.Linear(obs_dim, latent_dim)

    def forward(self, x: torch.Tensor, subjects: torch.Tensor) -> torch.Tensor:
        shape = (-1,) + (1,) * (x.dim() - 2) + (x.shape[-1],)
        offset = self.offset[subjects].view(shape)
        scale = torch.exp(-self.log_scale[subjects]).view(shape)
        return self.map((x - offset) * scale)


class HierarchicalPLRNN(nn.Module):
    """Shallow PLRNN whose parameters are generated per subject from low-dimensional vectors."""

    def __init__(self, n_subjects: int, latent_dim: int, hidden_dim: int, subject_dim: int) -> None:
        super().__init__()
        m, h, p = latent_dim, hidden_dim, subject_dim
        self.latent_dim, self.hidden_dim = m, h
        sizes = {"A": m, "W1": m * h, "W2": h * m, "h1": m, "h2": h}
        self.subject_vectors = nn.Parameter(torch.randn(n_subjects, p))
        self.bias = nn.ParameterDict(
            {
                "A": nn.Parameter(torch.empty(m).uniform_(0.9, 1.0)),
                "W1": nn.Parameter(torch.randn(m * h) * 0.1 / math.sqrt(h)),
                "W2": nn.Parameter(torch.randn(h * m) / math.sqrt(m)),
                "h1": nn.Parameter(torch.zeros(m)),
                "h2": nn.Parameter(torch.randn(h) * 0.1),
            }
        )
        self.projection = nn.ParameterDict(
            {k: nn.Parameter(torch.randn(n, p) * 0.01) for k, n in sizes.items()}
        )

    def subject_params(self, subjects: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each subject's A (B,M), W1 (B,M,H), W2 (B,H,M), h1 (B,M), h2 (B,H) for ids (B,)."""
        vectors = self.subject_vectors[subjects]
        flat = {k: self.bias[k] + vectors @ self.projection[k].T for k in PLRNN_PARTS}
        m, h = self.latent_dim, self.hidden_dim
        flat["W1"] = flat["W1"].view(-1, m, h)
        flat["W2"] = flat["W2"].view(-1, h, m)
        return flat

    @staticmethod
    def step(z: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """One step of every row of `z` (B, M) with its own subject's parameters."""
        # products summed by hand, not einsum: einsum's batched matmuls of these tiny per-row
        # matrices cost 1.5x more forward and backward on a CPU
        hidden = torch.relu((params["W2"] * z[:, None, :]).sum(-1) + params["h2"])
        drive = (params["W1"] * hidden[:, None, :]).sum(-1)
        return params["A"] * z + drive + params["h1"]


class HierarchicalDSR(nn.Module):
    """Encoder, decoder and hierarchical PLRNN for S subjects observed in `obs_dim` features."""

    def __init__(
        self,
        n_subjects: int,
        obs_dim: int,
        latent_dim: int = 8,
        hidden_dim: int = 32,
        subject_dim: int = 4,
    ) -> None:
        super().__init__()
        self.encoder = SubjectEncoder(n_subjects, obs_dim, latent_dim)
        self.decoder = nn.Linear(latent_dim, obs_dim)
        self.dsr = HierarchicalPLRNN(n_subjects, latent_dim, hidden_dim, subject_dim)

    def lr_groups(self) -> dict[str, list[nn.Parameter]]:
        """Every parameter in exactly one of the five `component.level` groups."""
        return {
            "encoder.shared": list(self.encoder.map.parameters()),
            "encoder.subjects": [self.encoder.offset, self.encoder.log_scale],
            "decoder.shared": list(self.decoder.parameters()),
            "dsr.shared": [*self.dsr.bias.values(), *self.dsr.projection.values()],
            "dsr.subjects": [self.dsr.subject_vectors],
        }

    def encode(self, x: torch.Tensor, subjects: torch.Tensor) -> torch.Tensor:
        return self.encoder(x, subjects)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    @torch.no_grad()
    def generate(self, x0: torch.Tensor, subjects: torch.Tensor, n_steps: int) -> torch.Tensor:
        """Free-running observations (B, n_steps, N) from encoded first observations x0 (B, N)."""
        params = self.dsr.subject_params(subjects)
        z = self.encode(x0, subjects)
        out = []
        for _ in range(n_steps):
            z = self.dsr.step(z, params)
            out.append(z)
        return self.decode(torch.stack(out, dim=1))
