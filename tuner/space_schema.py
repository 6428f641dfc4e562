"""The space-file grammar, from `SpaceFile` itself: JSON Schema and README's reference table.

```python
schema = space_schema()   # JSON Schema (draft 2020-12) of a space file, with every key described
table = reference_table() # the Markdown table README's "Space-file reference" shows
```

Both walk pydantic's schema of `SpaceFile`, so a key added to the model appears in both; its
meaning comes from `MEANINGS` (or the field's own description), and a key without one is an
error, so the table cannot fall behind the model. `python -m tuner schema` prints the schema
(editors that read JSON Schema for YAML then complete and check space files).
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

#: a value anywhere a distribution is accepted: a plain value is a constant
DISTRIBUTION = "<distribution>"
#: what a key of a free-form mapping stands for, by the mapping's path
PLACEHOLDERS = {
    "search.settings": "<setting>",
    "search.learning_rate.multipliers": "<pattern>",
    "search.learning_rate.freeze_after": "<pattern>",
    "search.learning_rate.lrs": "<pattern>",
    "search.learning_rate.optimizer": "<pattern>",
    "search.learning_rate.optimizer.<pattern>": "<hyperparameter>",
    "search.optimizer.choice": "<optimizer>",
    "search.optimizer.choice.<optimizer>": "<hyperparameter>",
    "search.optimizer.hyperparameters": "<hyperparameter>",
    "search.lr_scheduling.choice": "<schedule>",
    "search.lr_scheduling.choice.<schedule>": "<hyperparameter>",
    "search.lr_scheduling.hyperparameters": "<hyperparameter>",
}
MEANINGS = {
    "name": "experiment name: the folder under storage_path and the Optuna study name",
    "trainable": "what trains: a registered name (dsr, finetune) or 'package.module:function'",
    "n_epochs": "epochs of every trial: ASHA's max_t and the schedules' whole run",
    "metric": "reported metric that is optimized and that ASHA compares",
    "mode": "whether metric is minimized or maximized",
    "num_samples": "trials (Optuna trials) in the sweep",
    "population": "Optuna trials trained together in one Ray trial (trainables with population "
    "support)",
    "max_concurrent_trials": "trials running at once (null: as many as resources allow)",
    "fixed": "settings every trial's config receives as they are (the trainable's own keys)",
    "search": "what Optuna samples for each trial",
    "search.learning_rate": "the base lr or the groups' own lrs, and per-component, per-level "
    "and per-group multipliers, freezes, weight decays and optimizer hyperparameters",
    "search.learning_rate.lr": "the base learning rate (may be left out when lrs covers every "
    "group)",
    "search.learning_rate.lrs": "groups' own learning rates by group pattern (no base lr, no "
    "multipliers)",
    "search.learning_rate.lrs.<pattern>": "the lr of the groups the pattern names (the most "
    "specific pattern wins)",
    "search.learning_rate.multipliers": "lr multipliers by group, component or level pattern",
    "search.learning_rate.multipliers.<pattern>": "the multiplier of the groups the pattern names",
    "search.learning_rate.freeze_after": "freeze_after by group pattern",
    "search.learning_rate.freeze_after.<pattern>": "null, an epoch, or a fraction of n_epochs",
    "search.learning_rate.unfreeze_at": "unfreeze_at by group pattern",
    "search.learning_rate.unfreeze_at.<name>": "null, or the epoch the group starts training",
    "search.learning_rate.weight_decay": "weight decay by group pattern",
    "search.learning_rate.weight_decay.<name>": "the weight decay of the groups it names",
    "search.learning_rate.optimizer": "per-group optimizer hyperparameters by group pattern "
    "(betas, eps, momentum, dampening, nesterov, as the optimizer has them)",
    "search.learning_rate.optimizer.<pattern>": "the hyperparameters of the groups it names "
    "(merged, the more specific pattern over the less)",
    "search.learning_rate.optimizer.<pattern>.<hyperparameter>": "one hyperparameter: a value, "
    "or a list whose items are searched one by one ([{uniform: [0.8, 0.95]}, 0.999])",
    "search.dsr_subject_multiplier": "lr multiplier of the DSR subject parameters",
    "search.lr_scheduling": "the schedule: one name, or a choice among schedules",
    "search.lr_scheduling.choice": "schedules to choose from, each with its hyperparameters",
    "search.lr_scheduling.choice.<schedule>": "a schedule name (or alias) and its hyperparameters",
    "search.lr_scheduling.choice.<schedule>.<hyperparameter>": "one hyperparameter of it",
    "search.lr_scheduling.name": "the schedule, when there is no choice",
    "search.lr_scheduling.hyperparameters": "its hyperparameters",
    "search.lr_scheduling.hyperparameters.<hyperparameter>": "one hyperparameter of it",
    "search.optimizer": "the optimizer: one name, or a choice among optimizers",
    "search.optimizer.choice": "optimizers to choose from (Adam, AdamW, RAdam, SGD), each with "
    "its hyperparameters",
    "search.optimizer.choice.<optimizer>": "an optimizer and its hyperparameters",
    "search.optimizer.choice.<optimizer>.<hyperparameter>": "one hyperparameter of it (a list "
    "item by item, as for learning_rate.optimizer)",
    "search.optimizer.name": "the optimizer, when there is no choice",
    "search.optimizer.hyperparameters": "its hyperparameters",
    "search.optimizer.hyperparameters.<hyperparameter>": "one hyperparameter of it",
    "search.settings": "any other trainable setting to sample",
    "search.settings.<setting>": "the setting's values",
    "searcher": "which Optuna sampler proposes trials",
    "searcher.name": "the sampler (python -m tuner validate lists the known ones)",
    "searcher.seed": "the sampler's seed (null: unseeded)",
    "searcher.n_startup_trials": "random trials before the model-based sampler starts",
    "asha": "ASHA early stopping (null: every trial runs n_epochs)",
    "asha.grace_period": "epochs every trial runs before it can be stopped",
    "asha.reduction_factor": "1 / the fraction of trials kept at each rung",
    "asha.brackets": "Hyperband brackets (1: plain ASHA); bracket s starts at grace_period x "
    "reduction_factor**s",
    "fail_fast": "stop the sweep when its first N trials fail with the same exception (0: never)",
    "on_nonfinite": (
        "a NaN/inf metric: fail records the trial FAIL; worst records the mode's worst value "
        "(+inf for min, -inf for max) at that epoch, the trial PRUNED (COMPLETE at n_epochs)"
    ),
    "loggers": "result loggers beside Ray's JSON and CSV: tensorboard, mlflow, wandb",
    "budget": "when the sweep asks for no new trial (null: after num_samples trials)",
    "budget.epochs": "total epochs of all trials",
    "budget.wall_time": "wall time of the sweep, e.g. 90s, 30m, 2h",
    "resources": "resources per trial",
    "resources.cpu": "CPUs per trial",
    "resources.gpu": "GPUs per trial; a fraction (< 1) shares one device between trials",
    "checkpoint_every": "epochs between checkpoints (0: none)",
    "keep_checkpoints": "checkpoints kept per trial",
    "max_failures": "times a failed trial is retried from its checkpoint",
    "storage_path": "the results root",
    "optuna_storage": "an Optuna storage URL (null: a journal file in the experiment folder)",
    "address": "the Ray cluster: auto, ray://host:port or host:port (null: a new local Ray)",
    f"{DISTRIBUTION}": "a searched value: a plain value is a constant, else one of these kinds",
    f"{DISTRIBUTION}.log_uniform": "[low, high]: a float drawn on a log scale",
    f"{DISTRIBUTION}.uniform": "[low, high]: a float (with step: on a grid)",
    f"{DISTRIBUTION}.int": "[low, high]: an integer (with step, or log)",
    f"{DISTRIBUTION}.choice": "one of these values",
    f"{DISTRIBUTION}.const": "this value",
    f"{DISTRIBUTION}.step": "grid step of uniform or int",
    f"{DISTRIBUTION}.log": "int on a log scale",
}


def _pydantic_schema() -> dict[str, Any]:
    from tuner.space import SpaceFile

    return SpaceFile.model_json_schema()


def _model_of(node: dict[str, Any], defs: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The model a property refers to (directly or as the non-null alternative), if any."""
    for option in [node, *node.get("anyOf", [])]:
        ref = option.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            return name, defs[name]
    return None, {}


def _mapping_of(node: dict[str, Any]) -> dict[str, Any] | None:
    """The value schema of a free-form mapping (directly or as the non-null alternative)."""
    for option in [node, *node.get("anyOf", [])]:
        values = option.get("additionalProperties")
        if isinstance(values, dict) and values:
            return values
    return None


def _type_of(node: dict[str, Any]) -> str:
    """A short human reading of a property's schema: type and bounds."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return "value/distribution" if name == "DistDef" else "mapping"
    if "anyOf" in node:
        parts = [_type_of(o) for o in node["anyOf"] if o.get("type") != "null"]
        nullable = any(o.get("type") == "null" for o in node["anyOf"])
        return " or ".join(parts) + (" or null" if nullable else "")
    if "enum" in node:
        return " or ".join(json.dumps(v) for v in node["enum"])
    kind = node.get("type", "any")
    if kind == "array" and node.get("prefixItems"):
        kind = "[" + ", ".join(_type_of(item) for item in node["prefixItems"]) + "]"
    elif kind == "array":
        kind = "list"
    elif kind == "object":
        values = node.get("additionalProperties")
        inner = _type_of(values) if isinstance(values, dict) and values else "any"
        kind = f"mapping of ({inner})" if " or " in inner else f"mapping of {inner}"
    bounds = [
        f"{sign} {node[key]}"
        for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="))
        if key in node
    ]
    if "pattern" in node:
        bounds.append("letters, digits, . _ -")
    return " ".join([kind, *bounds])


def _rows(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(dotted path, property schema node, default) for every key, the distribution's last."""
    defs = schema.get("$defs", {})

    def walk(model: dict[str, Any], prefix: str) -> Iterator[tuple[str, dict[str, Any], str]]:
        required = set(model.get("required", []))
        for key, node in model.get("properties", {}).items():
            path = f"{prefix}{key}"
            default = "required" if key in required else _default(node)
            yield from expand(path, node, default)

    def expand(path: str, node: dict[str, Any], default: str):
        yield path, node, default
        name, model = _model_of(node, defs)
        if name is not None and name != "DistDef":
            yield from walk(model, f"{path}.")
        values = _mapping_of(node)
        if values is not None:
            yield from expand(f"{path}.{PLACEHOLDERS.get(path, '<name>')}", values, "")

    yield from walk(schema, "")
    if "DistDef" in defs:
        yield DISTRIBUTION, {"$ref": "#/$defs/DistDef"}, ""
        yield from walk(defs["DistDef"], f"{DISTRIBUTION}.")


def _default(node: dict[str, Any]) -> str:
    if "default" not in node:
        return ""
    value = node["default"]
    if isinstance(value, dict) and value and "$ref" in json.dumps(node):
        return "(its keys' defaults)"
    return json.dumps(value)


def _meaning(path: str, node: dict[str, Any]) -> str:
    meaning = MEANINGS.get(path) or node.get("description", "")
    if not meaning:
        raise KeyError(f"space-file key {path!r} has no meaning: add it to MEANINGS")
    return meaning


def reference_rows() -> list[tuple[str, str, str, str]]:
    """(key, type, default, meaning) of every key a space file may hold."""
    return [
        (path, _type_of(node), default, _meaning(path, node))
        for path, node, default in _rows(_pydantic_schema())
    ]


def reference_table() -> str:
    """README's reference table of the space-file grammar, in Markdown."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, kind, default, meaning in reference_rows():
        cells = [f"`{key}`", kind, f"`{default}`" if default else "", meaning]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def space_schema() -> dict[str, Any]:
    """JSON Schema of a space file: pydantic's, every key described, plain values accepted
    wherever a distribution is (a constant), as the loader reads them."""
    schema = copy.deepcopy(_pydantic_schema())
    for path, node, _ in _rows(schema):
        node["description"] = _meaning(path, node)
    schema["$defs"]["DistDef"]["description"] = MEANINGS[DISTRIBUTION]
    text = json.dumps(schema).replace(
        '{"$ref": "#/$defs/DistDef"',
        '{"anyOf": [{"$ref": "#/$defs/DistDef"}, {"not": {"type": "object"}}]',
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "lr-tuner space file",
        **json.loads(text),
    }


def add_schema_parser(commands: Any) -> None:
    """The `schema` subcommand on the CLI's subparsers."""
    commands.add_parser("schema", help="print the JSON Schema of space files (for editors)")


def _run_schema(args: argparse.Namespace) -> int:
    print(json.dumps(space_schema(), indent=2))
    return 0


SCHEMA_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"schema": _run_schema}
