"""`python -m tuner schema`: a JSON Schema every example validates against, and README's table."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from tuner.cli import main
from tuner.space import SpaceFile
from tuner.space_schema import MEANINGS, reference_rows, reference_table

REPO = Path(__file__).resolve().parents[2]
#: every space file in examples/ (examples/cluster/ holds Ray's cluster-launcher config instead)
EXAMPLES = sorted(
    p for p in (REPO / "examples").rglob("*.yaml") if "cluster" not in p.relative_to(REPO).parts
)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_printed_schema())


def _printed_schema() -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["schema"]) == 0
    schema = json.loads(out.getvalue())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_validates_against_the_printed_schema(validator, path: Path) -> None:
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_load(path))]
    assert errors == []


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"bogus": 1}, []),
        ({"n_epochs": 0}, ["n_epochs"]),
        ({"mode": "mid"}, ["mode"]),
        ({"asha": {"grace_period": 1, "reduction": 2}}, ["asha"]),
        ({"search": {"learning_rate": {"lr": {"log_uniform": "1e-3"}}}}, None),
        ({"resources": {"cpu": 0}}, ["resources", "cpu"]),
    ],
)
def test_the_schema_rejects_what_the_loader_rejects(validator, change: dict, where) -> None:
    data = {**_load(REPO / "examples" / "quickstart.yaml"), **change}
    errors = list(validator.iter_errors(data))
    assert errors, change
    if where is not None:
        assert [list(e.path) for e in errors] == [where]
    with pytest.raises(ValidationError):
        SpaceFile.model_validate(data)


def test_plain_values_stand_for_constants_where_distributions_are_accepted(validator) -> None:
    data = _load(REPO / "examples" / "quickstart.yaml")
    data["search"] = {"learning_rate": {"lr": 1e-3, "multipliers": {"dsr.*": [1, 2]}}}
    assert list(validator.iter_errors(data)) == []


def test_readme_table_is_the_generated_one() -> None:
    readme = (REPO / "README.md").read_text()
    found = re.search(
        r"<!-- space-reference:start -->\n(.*?)<!-- space-reference:end -->", readme, re.S
    )
    assert found, "README lacks the space-reference markers"
    assert found.group(1) == reference_table()


def test_every_field_is_a_row_and_every_meaning_is_used() -> None:
    keys = [row[0] for row in reference_rows()]
    assert set(SpaceFile.model_fields) <= set(keys)
    assert len(keys) == len(set(keys))
    assert set(MEANINGS) == set(keys), set(MEANINGS) ^ set(keys)
