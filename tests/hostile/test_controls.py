"""Controls for the hostile corpus: the file every case starts from, and files just inside each
limit, are accepted; just outside, refused. So each refusal is owed to what the case changed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.hostile.corpus import BASE, dump
from trainables.lr.errors import ConfigError
from tuner._space_file import MAX_BYTES
from tuner._space_settings import MAX_SEED
from tuner._space_yaml import MAX_DEPTH, read_yaml
from tuner.cli import BAD_INPUT, OK, main
from tuner.space import load_space


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "space.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _base(tmp_path: Path) -> str:
    return dump({**BASE, "storage_path": str(tmp_path / "results")})


def test_the_corpus_base_is_a_valid_space(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", str(_write(tmp_path, _base(tmp_path)))]) == OK
    assert "OK: hostile, trainable tests.hostile.declared:train" in capsys.readouterr().out


def test_a_file_of_exactly_the_size_cap_is_read(tmp_path: Path) -> None:
    text = _base(tmp_path)
    padded = text + "#" * (MAX_BYTES - len(text.encode()) - 1) + "\n"
    assert len(padded.encode()) == MAX_BYTES
    assert load_space(_write(tmp_path, padded)).name == "hostile"
    with pytest.raises(ConfigError, match=f"is {MAX_BYTES + 1} bytes, more than"):
        read_yaml(_write(tmp_path, padded + "\n"))


def test_nesting_up_to_the_depth_cap_is_read(tmp_path: Path) -> None:
    """The mapping, `fixed`, k lists and the number inside: k + 3 levels."""
    k = MAX_DEPTH - 3
    inside = "[" * k + "1" + "]" * k
    data = read_yaml(_write(tmp_path, f"fixed: {{a: {inside}}}\n"))
    value = data["fixed"]["a"]
    for _ in range(k):
        (value,) = value
    assert value == 1
    with pytest.raises(ConfigError, match=f"nests deeper than {MAX_DEPTH} levels"):
        read_yaml(_write(tmp_path, f"fixed: {{a: [{inside}]}}\n"))


def test_a_merged_key_may_be_overridden_once(tmp_path: Path) -> None:
    """YAML's merge key is not a duplicate: the explicit key wins, as YAML says."""
    text = "fixed:\n  a: &a {x: 1, y: 2}\n  b:\n    <<: *a\n    x: 3\n"
    assert read_yaml(_write(tmp_path, text))["fixed"]["b"] == {"x": 3, "y": 2}
    with pytest.raises(ConfigError, match="fixed.b.x is set twice"):
        read_yaml(_write(tmp_path, text + "    x: 4\n"))


@pytest.mark.parametrize(("seed", "code"), [(0, OK), (MAX_SEED, OK), (MAX_SEED + 1, BAD_INPUT)])
def test_the_seed_range_is_what_every_sampler_takes(
    tmp_path: Path, seed: int, code: int, capsys: pytest.CaptureFixture
) -> None:
    data = {**BASE, "storage_path": str(tmp_path / "results"), "searcher": {"seed": seed}}
    assert main(["validate", str(_write(tmp_path, yaml.safe_dump(data)))]) == code
    assert main(["sample", str(tmp_path / "space.yaml"), "--n", "2"]) == code
    capsys.readouterr()


def test_a_builtin_trainable_named_by_its_path_is_the_registered_one(tmp_path: Path) -> None:
    """The function of a registered trainable stands for its entry (checks, groups, population)."""
    from trainables.registry import TRAINABLES

    data = {**BASE, "trainable": "trainables.dsr.trainable:dsr_trainable", "search": {}}
    data["search"] = {"learning_rate": {"lr": {"log_uniform": [1e-3, 1e-2]}}}
    space = load_space(_write(tmp_path, yaml.safe_dump(data)))
    assert space.resolve_trainable() is TRAINABLES["dsr"]
