"""The benchmark functions' published optima, fidelity behaviour and learning-curve values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.mf_functions import (
    FUNCTIONS,
    borehole_flow,
    branin,
    curve_value,
    fidelity,
    hartmann3,
    hartmann6,
)
from benchmarks.mf_trainable import mf_config_problems, run_curve


def _unit(values: tuple[float, ...], box: tuple[tuple[float, float], ...]) -> tuple[float, ...]:
    return tuple((v - lo) / (hi - lo) for v, (lo, hi) in zip(values, box, strict=True))


@pytest.mark.parametrize("x", [(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)])
def test_branin_reaches_its_published_minimum_at_all_three_minimizers(x: tuple) -> None:
    unit = _unit(x, ((-5.0, 10.0), (0.0, 15.0)))
    assert branin(unit, 1.0) == pytest.approx(0.397887, abs=1e-6)


def test_branin_at_low_fidelity_is_the_published_shifted_function() -> None:
    # b, c, t at z = 0 (Kandasamy et al.): b0 - 0.01, c0 - 0.1, t0 + 0.005, at x = (1, 2)
    b, c, t = 5.1 / (4 * math.pi**2) - 0.01, 5 / math.pi - 0.1, 1 / (8 * math.pi) + 0.005
    expected = (2 - b + c - 6) ** 2 + 10 * (1 - t) * math.cos(1.0) + 10
    assert branin(_unit((1.0, 2.0), ((-5.0, 10.0), (0.0, 15.0))), 0.0) == pytest.approx(
        expected, rel=1e-12
    )


def test_hartmann_minima_are_the_published_values() -> None:
    assert hartmann3((0.114614, 0.555649, 0.852547), 1.0) == pytest.approx(-3.86278, abs=1e-5)
    argmin6 = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
    assert hartmann6(argmin6, 1.0) == pytest.approx(-3.32237, abs=1e-5)


def test_hartmann_fidelity_bias_lowers_every_alpha_by_bias_times_one_minus_z() -> None:
    x = (0.3, 0.6, 0.2)
    # the function is linear in alpha: the bias adds bias * (1 - z) * sum(exp(-inner))
    plain = hartmann3(x, 0.25)
    shift = hartmann3(x, 0.25, bias=2.0) - plain
    exps = -hartmann3(x, 0.25, bias=1.0) + plain  # = 1 * 0.75 * sum(exp(...)) negated
    assert shift == pytest.approx(2.0 * -exps, rel=1e-12)


def test_borehole_maximum_is_the_published_corner_value() -> None:
    corner = FUNCTIONS["borehole"].argmin
    # Xiong et al.'s high-fidelity borehole at rw=0.15, r=100, Tu=115600, Hu=1110, Tl=116,
    # Hl=700, L=1120, Kw=12045
    rw, r, tu, hu, tl, hl, length, kw = 0.15, 100.0, 115600.0, 1110.0, 116.0, 700.0, 1120.0, 12045.0
    log_ratio = math.log(r / rw)
    flow = (
        2
        * math.pi
        * tu
        * (hu - hl)
        / (log_ratio * (1 + 2 * length * tu / (log_ratio * rw**2 * kw) + tu / tl))
    )
    assert borehole_flow(corner, 1.0) == pytest.approx(flow, rel=1e-12)
    assert flow == pytest.approx(309.5, abs=0.1)
    points = np.random.default_rng(0).random((20000, 8))
    assert max(borehole_flow(p, 1.0) for p in points) < flow


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_reaches_its_optimum_and_nothing_beats_it(name: str) -> None:
    function = FUNCTIONS[name]
    assert function.value(function.argmin, 1.0) == pytest.approx(function.optimum, abs=1e-5)
    points = np.random.default_rng(1).random((5000, function.dims))
    assert min(function.value(p, 1.0) for p in points) > function.optimum - 1e-9


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_curve_is_exact_at_max_t_noisy_before_and_repeatable(name: str) -> None:
    function = FUNCTIONS[name]
    x = tuple(np.random.default_rng(2).random(function.dims))
    assert curve_value(name, x, 27, 27) == function.value(x, 1.0)
    first = curve_value(name, x, 1, 27)
    assert first == curve_value(name, x, 1, 27)
    assert first >= function.value(x, 0.0)  # the noise is |N(0, 1)| scaled: never below
    assert fidelity(1, 27) == 0.0 and fidelity(27, 27) == 1.0
    assert fidelity(3, 27) == pytest.approx(1 / 3, rel=1e-12)


def test_trainable_loop_reports_each_epoch_and_stops_when_asked() -> None:
    config = {"function": "hartmann3", "n_epochs": 9, "x0": 0.1, "x1": 0.5, "x2": 0.8}
    seen: list[tuple[int, float]] = []
    run_curve(config, lambda epoch, value: seen.append((epoch, value)) or epoch == 4)
    assert [e for e, _ in seen] == [1, 2, 3, 4]
    assert seen[2][1] == curve_value("hartmann3", [0.1, 0.5, 0.8], 3, 9)
    assert mf_config_problems(config) == []
    bad = mf_config_problems({"function": "braninn", "n_epochs": 9})
    assert "did you mean 'branin'" in bad[0].fix
    assert [p.path for p in mf_config_problems({**config, "x1": 1.5})] == ["x1"]
