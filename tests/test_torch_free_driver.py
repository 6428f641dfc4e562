"""A sweep's driver never imports torch: checking space files, and the trainable it hands to Ray.

Each driver-side check runs in a fresh interpreter (`sys.executable`): this test process has
torch imported already. `-X importtime` lists every module the CLI imports.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.dsr.conftest import SMALL
from trainables.dsr import dsr_trainable, train_dsr
from trainables.finetune import finetune_trainable
from trainables.registry import TRAINABLES

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = {
    "dsr": REPO / "examples" / "quickstart.yaml",
    "finetune": REPO / "examples" / "finetune.yaml",
}
SAMPLED = "(in 20 of 20 sampled configs, e.g. #0)"
FINETUNE_MODULES = (
    "body, body.layer1, body.layer1.0, body.layer1.1, body.layer2, body.layer2.0, body.layer2.1, "
    "body.layer3, body.layer3.0, body.layer3.1, head"
)
#: bad LR keys and settings in `fixed:`, and the lines `validate` printed for them before the
#: driver stopped importing torch (the finetune one names the modules of the real model)
BAD = {
    "dsr": (
        {
            "fixed": {"learning_rate": {"decoder": {"subjects": {"lr": 1e-3}}}, "seq_len": 2000},
            "search": {"settings": {"alpha": {"uniform": [0.05, 0.3]}}},
        },
        [
            f"fixed.learning_rate.decoder.subjects: the decoder has only 'shared' parameters "
            f"{SAMPLED}: remove it, or set its lr under 'shared'",
            f"fixed.seq_len is 2000, but a training series is shorter than seq_len + 1 "
            f"{SAMPLED}: lower seq_len or give longer series",
        ],
    ),
    "finetune": (
        {
            "fixed": {"layers": ["body.*", "classifier"]},
            "search": {"learning_rate": {"lr": {"log_uniform": [1e-3, 3e-2]}}},
        },
        [
            f"fixed.layers[1]: 'classifier' is not a module of FinetuneNet (its modules: "
            f"{FINETUNE_MODULES}) {SAMPLED}: use a path from model.named_modules(), "
            f"e.g. 'encoder.layers.*'",
        ],
    ),
}


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    """`sys.executable args...` in the repository, its output captured."""
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def _torch_modules(importtime: str) -> list[str]:
    """The torch modules an `-X importtime` report lists."""
    names = [line.rsplit("|", 1)[-1].strip() for line in importtime.splitlines()]
    return [n for n in names if n == "torch" or n.startswith("torch.")]


def _validate(path: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`python -m tuner validate path` and the torch modules it imported."""
    done = _python("-X", "importtime", "-m", "tuner", "validate", str(path))
    assert "import time:" in done.stderr  # the report is there to be read
    return done, _torch_modules(done.stderr)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_validating_a_space_file_imports_no_torch(name: str) -> None:
    done, torch_modules = _validate(EXAMPLES[name])
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"OK: {yaml.safe_load(EXAMPLES[name].read_text())['name']}" in done.stdout
    assert f"trainable {name}," in done.stdout
    assert torch_modules == []


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_lr_configs_are_reported_as_before_without_torch(name: str, tmp_path: Path) -> None:
    fields, expected = BAD[name]
    data = {**yaml.safe_load(EXAMPLES[name].read_text()), **fields}
    path = tmp_path / f"bad_{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    done, torch_modules = _validate(path)
    assert done.returncode == 2, done.stdout + done.stderr[-2000:]
    lines = [
        line for line in (done.stdout + done.stderr).splitlines() if line.startswith(str(path))
    ]
    assert lines == [f"{path}: {line}" for line in expected]
    assert torch_modules == []


PICKLE = """
import sys
import ray.cloudpickle as cloudpickle
from trainables._lazy import lazy_function
from trainables.registry import TRAINABLES
from tuner.space import load_space

functions = {"train_dsr": lazy_function("trainables.dsr.trainable:train_dsr")}
for name, path in zip(sys.argv[2::2], sys.argv[3::2]):
    entry = load_space(path).resolve_trainable()
    assert entry is TRAINABLES[name]
    functions[name] = entry.worker_function
with open(sys.argv[1], "wb") as file:
    cloudpickle.dump(functions, file)
print(sorted(m for m in sys.modules if m.split(".")[0] == "torch"))
"""

UNPICKLE = """
import json, pickle, sys
with open(sys.argv[1], "rb") as file:
    functions = pickle.load(file)
torch_modules = sorted(m for m in sys.modules if m.split(".")[0] == "torch")
reports = functions["train_dsr"](json.loads(sys.argv[2]))
print(json.dumps({"torch_modules": torch_modules, "torch_now": "torch" in sys.modules,
                  "names": {k: f.__name__ for k, f in functions.items()},
                  "docs": {k: f.__doc__ for k, f in functions.items()}, "reports": reports}))
"""


def _pickled_worker_functions(tmp_path: Path) -> Path:
    """The registered trainables' worker functions (and a stand-in for `train_dsr`, which runs
    without Ray), pickled by a fresh process that loads their space files as a driver does."""
    pickled = tmp_path / "functions.pkl"
    args = [str(pickled), *(str(a) for name in sorted(EXAMPLES) for a in (name, EXAMPLES[name]))]
    done = _python("-c", PICKLE, *args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"  # no torch module imported to pickle them
    return pickled


def test_worker_functions_pickle_without_torch_and_import_the_trainable_when_called(
    tmp_path: Path,
) -> None:
    pickled = _pickled_worker_functions(tmp_path)
    config = {**SMALL, "learning_rate": 1e-2, "n_epochs": 2}
    done = _python("-c", UNPICKLE, str(pickled), json.dumps(config))
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["torch_modules"] == []  # unpickling imported nothing of torch
    assert out["torch_now"]  # calling it imported the trainable
    real = {"dsr": dsr_trainable, "finetune": finetune_trainable, "train_dsr": train_dsr}
    assert out["names"] == {k: f.__name__ for k, f in real.items()}
    assert out["docs"] == {k: f.__doc__ for k, f in real.items()}
    assert out["reports"] == train_dsr(config)


def test_entry_function_is_the_real_trainable_and_worker_function_stands_in_for_it() -> None:
    for name, real in (("dsr", dsr_trainable), ("finetune", finetune_trainable)):
        entry = TRAINABLES[name]
        assert entry.function is real
        stand_in = entry.worker_function
        assert stand_in is not real and stand_in is entry.worker_function
        assert (stand_in.__name__, stand_in.__qualname__) == (real.__name__, real.__qualname__)
        assert inspect.getdoc(stand_in) == inspect.getdoc(real)
        assert inspect.signature(stand_in).bind({})  # Ray's check of a function trainable


@pytest.mark.slow
def test_a_pickled_worker_function_trains_in_a_ray_trial(ray_local, tmp_path: Path) -> None:
    import ray.cloudpickle as cloudpickle
    from ray import tune

    stand_in = cloudpickle.loads(_pickled_worker_functions(tmp_path).read_bytes())["dsr"]
    config = {**SMALL, "learning_rate": 1e-2, "n_epochs": 2}
    tuner = tune.Tuner(
        stand_in,
        param_space=config,
        tune_config=tune.TuneConfig(metric="score", mode="min", num_samples=1),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "ray"), verbose=0),
    )
    result = tuner.fit()[0]
    assert result.error is None, result.error
    assert Path(result.path).parent.name.startswith("dsr_trainable")  # named after it
    plain = train_dsr(config)
    rows = result.metrics_dataframe.sort_values("epoch")[list(plain[0])].to_dict("records")
    assert rows == plain
