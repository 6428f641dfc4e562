"""Growing a sweep: `run FILE --resume --num-samples N`, `resume DIR --num-samples N`.

A grown sweep stays one experiment folder and one Optuna study. Ray cannot raise the trial count
of a Tuner it restores, so growing is a second Ray run in the same folder, on public APIs only:

1. the folder's Ray run is resumed until its own trials have ended (nothing runs when it had
   finished);
2. a new Tuner on the same study asks for the rest, N minus the trials the study holds (M). Its
   searcher opens the study as it stands, so the sampler models every earlier trial; its ASHA
   starts with every earlier trial in the rungs it reached (`ResumableASHA.earlier`); its trial
   folders sit beside the earlier ones, so the tables and the report include all of them.

The new run's sampler is seeded with `seed + M`: reproducible, and it does not replay the random
start-up draws of the first run (a sampler seeded as before would propose trial 0 again).
`experiment.json` records the new `num_samples` and `grown_from: M`, so a grown run that is
interrupted resumes as its own Ray run, which expects N - M Ray trials.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from trainables.lr.errors import Problem
from tuner.experiment import RECORD, Experiment
from tuner.export import write_atomic


def phase_samples(space: Any, experiment: Experiment) -> int:
    """The trials the folder's current Ray run asks for: N minus those of earlier runs."""
    return max(1, space.num_samples - experiment.grown_from)


def growth_problems(space: Any, num_samples: int | None) -> list[Problem]:
    """Why this sweep cannot grow to `num_samples` trials (checked before Ray starts)."""
    if num_samples is None or space.population <= 1:
        return []
    return [
        Problem(
            "num_samples",
            f"is {num_samples}, but a `population: {space.population}` sweep cannot grow",
            "start a new sweep with --name and the larger --num-samples",
        )
    ]


def record_growth(experiment: Experiment, num_samples: int, grown_from: int) -> Experiment:
    """`experiment` with its record saying: N = `num_samples`, M = `grown_from`."""
    overrides = {**experiment.overrides, "num_samples": num_samples}
    path = experiment.dir / RECORD
    record = json.loads(path.read_text())
    record.update(overrides=overrides, grown_from=grown_from)
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    write_atomic(path, lambda p: p.write_text(text))
    return dataclasses.replace(experiment, overrides=overrides, grown_from=grown_from)


def grown_space(space: Any, num_samples: int, earlier: int) -> Any:
    """The space of the new run: the trials still missing, the sampler seeded `seed + earlier`."""
    seed, searcher = space.searcher.seed, None
    if seed is not None:
        searcher = {**(space.raw.get("searcher") or {}), "seed": seed + earlier}
    return space.with_overrides(num_samples=num_samples - earlier, searcher=searcher)


def grow_tuner(
    space: Any, experiment: Experiment, num_samples: int, cluster_cpus: float
) -> tuple[Any, Experiment, Any] | None:
    """The Tuner adding the missing trials (with the updated experiment and its space), or
    None when the study already holds `num_samples` trials or more."""
    from tuner.sweep import build_tuner

    records = experiment.load_study().get_trials(deepcopy=False)
    if num_samples <= len(records):
        return None
    experiment = record_growth(experiment, num_samples, len(records))
    phase = grown_space(space, num_samples, len(records))
    tuner = build_tuner(phase, experiment, cluster_cpus, earlier=records)
    return tuner, experiment, phase


def resume_and_grow(
    space: Any, experiment: Experiment, cluster_cpus: float, num_samples: int | None, k: int
) -> Any:
    """Resume the folder's Ray run; then, unless interrupted, grow it to `num_samples`."""
    from tuner.sweep import restore_tuner, run_tuner

    tuner = restore_tuner(space, experiment)
    samples, worst = phase_samples(space, experiment), space.on_nonfinite
    outcome = run_tuner(tuner, experiment, samples, k, on_nonfinite=worst)
    if num_samples is None or outcome.interrupted:
        return outcome
    grown = grow_tuner(space, experiment, num_samples, cluster_cpus)
    if grown is None:
        return outcome
    tuner, experiment, phase = grown
    return run_tuner(tuner, experiment, phase.num_samples, k, on_nonfinite=worst)
