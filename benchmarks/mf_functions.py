"""Multi-fidelity benchmark functions from the literature, as learning curves over epochs.

Definitions (each read in the public code that accompanies the papers, re-implemented here):

- Branin with fidelity (Kandasamy et al., "Multi-fidelity Bayesian optimisation with continuous
  approximations" (BOCA), ICML 2017; dragonfly `demos_synthetic/branin/branin.py`,
  `branin_z_x`): b = 5.1/(4 pi^2) - 0.01 (1 - z), c = 5/pi - 0.1 (1 - z),
  t = 1/(8 pi) + 0.005 (1 - z); minimum 5/(4 pi) = 0.397887 at z = 1, e.g. at (pi, 2.275).
- Hartmann-3 and Hartmann-6 with fidelity (Kandasamy et al.'s alpha' = alpha - delta (1 - z),
  dragonfly `hartmann6_4_mf.py`, with the fidelity bias and the fidelity noise
  |N(0, 1)| * noise * (1 - z) of mf-prior-bench, `mfpbench/synthetic/hartmann/generators.py`,
  z on a log scale of the fidelity); minima -3.86278 and -3.32237 at z = 1.
- Borehole with fidelity (Kandasamy et al., dragonfly `demos_synthetic/borehole_6/borehole_6.py`;
  the low-fidelity form of Xiong et al. 2013): f = z f_high + (1 - z) f_low, water flow to be
  maximized, so the value is -f; the maximum is at a corner of the box (f is monotone in every
  input), 309.5 m^3/yr.

Every function takes a point of the unit cube (each input rescaled to its published box) and
the fidelity z in [0, 1]. `curve_value(name, x, epoch, max_t)` is the value a trial reports at
`epoch`: z = log(epoch) / log(max_t) (mf-prior-bench's log scale, z = 1 at `max_t`), plus the
fidelity noise `noise * (1 - z) * |N(0, 1)|`, drawn from a generator seeded by the point and the
epoch (the same point at the same epoch always gets the same value). Branin and Borehole carry
noise too (scaled to their ranges), so that on every function the ranking at epoch 1 predicts
the final ranking weakly and the later epochs predict it well (measured in BENCHMARKS.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_A3 = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_P3 = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)
_A6 = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_P6 = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
#: Borehole inputs in the order of `x`: (low, high) of rw, r, Tu, Hu, Tl, Hl, L, Kw
BOREHOLE_BOX = (
    (0.05, 0.15),
    (100.0, 50000.0),
    (63070.0, 115600.0),
    (990.0, 1110.0),
    (63.1, 116.0),
    (700.0, 820.0),
    (1120.0, 1680.0),
    (9855.0, 12045.0),
)


def branin(x: Sequence[float], z: float) -> float:
    """Kandasamy et al.'s Branin at fidelity `z`; x in [0, 1]^2 maps to [-5, 10] x [0, 15]."""
    x1, x2 = 15.0 * x[0] - 5.0, 15.0 * x[1]
    b = 5.1 / (4 * math.pi**2) - 0.01 * (1 - z)
    c = 5 / math.pi - 0.1 * (1 - z)
    t = 1 / (8 * math.pi) + 0.005 * (1 - z)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def _hartmann(x: Sequence[float], z: float, a: np.ndarray, p: np.ndarray, bias: float) -> float:
    alpha = _ALPHA - bias * (1 - z)
    inner = (a * (np.asarray(x, dtype=float) - p) ** 2).sum(axis=1)
    return float(-(alpha * np.exp(-inner)).sum())


def hartmann3(x: Sequence[float], z: float, bias: float = 0.0) -> float:
    """Hartmann-3 with alpha' = alpha - bias (1 - z) (bias 0: the plain function at any z)."""
    return _hartmann(x, z, _A3, _P3, bias)


def hartmann6(x: Sequence[float], z: float, bias: float = 0.0) -> float:
    """Hartmann-6 with alpha' = alpha - bias (1 - z)."""
    return _hartmann(x, z, _A6, _P6, bias)


def borehole_flow(x: Sequence[float], z: float) -> float:
    """Kandasamy et al.'s Borehole water flow at fidelity `z` (to be maximized)."""
    rw, r, tu, hu, tl, hl, length, kw = (
        lo + v * (hi - lo) for v, (lo, hi) in zip(x, BOREHOLE_BOX, strict=True)
    )
    log_ratio = math.log(r / rw)
    frac = 2 * length * tu / (log_ratio * rw**2 * kw) * math.exp(z - 1)
    high = 2 * math.pi * tu * (hu - hl) / (log_ratio * (1 + frac + tu / tl))
    low = 5 * tu * (hu - hl) / (log_ratio * (1.5 + frac + tu / tl))
    return z * high + (1 - z) * low


@dataclass(frozen=True)
class MFFunction:
    """A benchmark function to minimize: its value at (x, z), its optimum at z = 1, its noise."""

    name: str
    dims: int
    value: Callable[[Sequence[float], float], float]
    #: the global minimum at z = 1 and one point where it is reached (unit cube)
    optimum: float
    argmin: tuple[float, ...]
    #: standard deviation scale of the fidelity noise at z = 0
    noise: float


def _box_point(values: Sequence[float], box: Sequence[tuple[float, float]]) -> tuple[float, ...]:
    return tuple((v - lo) / (hi - lo) for v, (lo, hi) in zip(values, box, strict=True))


#: the corner of the Borehole box where the flow is largest (every input monotone)
_BOREHOLE_ARGMAX = (1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0)

FUNCTIONS: dict[str, MFFunction] = {
    "branin": MFFunction(
        "branin",
        2,
        branin,
        optimum=5 / (4 * math.pi),
        argmin=_box_point((math.pi, 2.275), ((-5.0, 10.0), (0.0, 15.0))),
        noise=100.0,
    ),
    "hartmann3": MFFunction(
        "hartmann3",
        3,
        lambda x, z: hartmann3(x, z, bias=2.0),
        optimum=-3.86278,
        argmin=(0.114614, 0.555649, 0.852547),
        noise=0.8,
    ),
    "hartmann6": MFFunction(
        "hartmann6",
        6,
        lambda x, z: hartmann6(x, z, bias=2.0),
        optimum=-3.32237,
        argmin=(0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573),
        noise=0.8,
    ),
    "borehole": MFFunction(
        "borehole",
        8,
        lambda x, z: -borehole_flow(x, z),
        optimum=-borehole_flow(_BOREHOLE_ARGMAX, 1.0),
        argmin=_BOREHOLE_ARGMAX,
        noise=200.0,
    ),
}


def fidelity(epoch: int, max_t: int) -> float:
    """z of `epoch` out of `max_t` on mf-prior-bench's log scale: 0 at epoch 1, 1 at `max_t`."""
    return 1.0 if max_t <= 1 else math.log(epoch) / math.log(max_t)


def curve_value(name: str, x: Sequence[float], epoch: int, max_t: int) -> float:
    """The value a trial at point `x` reports at `epoch` (module docstring)."""
    function = FUNCTIONS[name]
    z = fidelity(epoch, max_t)
    value = function.value(x, z)
    if z >= 1.0:
        return value
    key = [epoch, *(int(v * 2**31) for v in x)]
    return value + function.noise * (1 - z) * abs(float(np.random.default_rng(key).normal()))
