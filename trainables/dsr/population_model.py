"""`HierarchicalDSR`'s computations for K members at once, on their stacked parameters.

`params` maps every name of `HierarchicalDSR.named_parameters()` to the K members' values stacked
along a leading dimension (as `torch.func.stack_module_state` stacks them). Every function here
computes, per member, what the lone model computes (same operations, same order, so the same
values up to float rounding), written as batched matmuls over the members instead of vmapping
the lone model: for these tiny models vmap's per-operation cost was a third of the training time
and most of the evaluation time.

- `gtf_losses`: `training.gtf_loss` of every member on one shared batch, (K,);
- `generate`: `HierarchicalDSR.generate` of every member, (K, B, steps, N);
- `prediction_errors`: `metrics.prediction_error`'s value before its cap, (K,).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from trainables.dsr.model import PLRNN_PARTS, HierarchicalPLRNN

Params = Mapping[str, torch.Tensor]


def _linear(params: Params, prefix: str, x: torch.Tensor) -> torch.Tensor:
    """`nn.Linear` of each member on its rows: x (K, ..., in) -> (K, ..., out)."""
    weight, bias = params[f"{prefix}.weight"], params[f"{prefix}.bias"]
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    out = torch.baddbmm(bias.unsqueeze(1), flat, weight.transpose(1, 2))
    return out.view(*x.shape[:-1], weight.shape[1])


def encode(params: Params, x: torch.Tensor, subjects: torch.Tensor) -> torch.Tensor:
    """`SubjectEncoder` of every member on shared observations x (B, ..., N) -> (K, B, ..., M)."""
    k = params["encoder.offset"].shape[0]
    shape = (k, -1) + (1,) * (x.dim() - 2) + (x.shape[-1],)
    offset = params["encoder.offset"][:, subjects].view(shape)
    scale = torch.exp(-params["encoder.log_scale"][:, subjects]).view(shape)
    return _linear(params, "encoder.map", (x - offset) * scale)


def decode(params: Params, z: torch.Tensor) -> torch.Tensor:
    """The decoder of every member: z (K, ..., M) -> (K, ..., N)."""
    return _linear(params, "decoder", z)


def subject_params(params: Params, subjects: torch.Tensor) -> dict[str, torch.Tensor]:
    """`HierarchicalPLRNN.subject_params` of every member for ids (B,), rows member-major:
    A (K*B, M), W1 (K*B, M, H), W2 (K*B, H, M), h1 (K*B, M), h2 (K*B, H)."""
    vectors = params["dsr.subject_vectors"][:, subjects]
    flat = {
        name: torch.baddbmm(
            params[f"dsr.bias.{name}"].unsqueeze(1),
            vectors,
            params[f"dsr.projection.{name}"].transpose(1, 2),
        ).flatten(0, 1)
        for name in PLRNN_PARTS
    }
    m, h = flat["A"].shape[-1], flat["h2"].shape[-1]
    flat["W1"] = flat["W1"].view(-1, m, h)
    flat["W2"] = flat["W2"].view(-1, h, m)
    return flat


def gtf_losses(
    params: Params, x: torch.Tensor, subjects: torch.Tensor, alphas: torch.Tensor
) -> torch.Tensor:
    """`gtf_loss` of every member on the shared batch x (B, T+1, N), member k with `alphas[k]`."""
    k, (b, length) = alphas.shape[0], x.shape[:2]
    z_data = encode(params, x, subjects)  # (K, B, T+1, M)
    rows = z_data.flatten(0, 1)
    step_params = subject_params(params, subjects)
    alpha = alphas.to(rows.dtype).repeat_interleave(b).unsqueeze(1)
    z = rows[:, 0]
    predicted = []
    for t in range(1, length):
        z = HierarchicalPLRNN.step(z, step_params)
        predicted.append(z)
        z = (1 - alpha) * z + alpha * rows[:, t]
    prediction = decode(params, torch.stack(predicted, dim=1).view(k, b, length - 1, -1))
    reconstruction = decode(params, z_data)
    error = (prediction - x[:, 1:]).square().mean((1, 2, 3))
    return error + (reconstruction - x).square().mean((1, 2, 3))


@torch.no_grad()
def generate(
    params: Params, x0: torch.Tensor, subjects: torch.Tensor, n_steps: int
) -> torch.Tensor:
    """Free-running observations of every member from shared x0 (B, N): (K, B, n_steps, N)."""
    z = encode(params, x0, subjects).flatten(0, 1)
    step_params = subject_params(params, subjects)
    out = []
    for _ in range(n_steps):
        z = HierarchicalPLRNN.step(z, step_params)
        out.append(z)
    k, b = params["encoder.offset"].shape[0], len(subjects)
    return decode(params, torch.stack(out, dim=1).view(k, b, n_steps, -1))


def _step_one_subject(z: torch.Tensor, p: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """`HierarchicalPLRNN.step` of rows z (K, R, M) that share their member's subject params."""
    hidden = torch.relu(torch.baddbmm(p["h2"].unsqueeze(1), z, p["W2"].transpose(1, 2)))
    drive = torch.bmm(hidden, p["W1"].transpose(1, 2))
    return p["A"].unsqueeze(1) * z + drive + p["h1"].unsqueeze(1)


@torch.no_grad()
def prediction_errors(
    params: Params, test: Sequence[torch.Tensor], n_steps: int, stride: int = 10
) -> torch.Tensor:
    """Every member's normalized n-step prediction error on the test series (uncapped), (K,)."""
    errors = []
    for s, series in enumerate(test):
        subject = torch.tensor([s], device=series.device)
        starts = torch.arange(0, len(series) - n_steps, stride, device=series.device)
        z = encode(params, series[starts], subject.expand(len(starts)))  # (K, R, M)
        shared = subject_params(params, subject)  # K rows: each member's params of subject s
        for _ in range(n_steps):
            z = _step_one_subject(z, shared)
        pred = decode(params, z)
        mse = (pred - series[starts + n_steps]).square().mean(1) / series.var(0).clamp_min(1e-8)
        errors.append(mse.mean(-1))
    return torch.stack(errors).mean(0)
