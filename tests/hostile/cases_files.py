"""Hostile space files: duplicate keys, non-finite counts and rates, out-of-range seeds, files
that are not regular or too big, deep nesting, values YAML cannot build, and names long or odd
enough that echoing them whole would flood the terminal."""

from __future__ import annotations

import math

from tests.hostile.corpus import BASE, Case, base_text, dump, with_value

_BASE = base_text()


def _duplicates() -> list[Case]:
    texts = {
        "top": (_BASE + "name: again\n", "name is set twice (lines 1 and 20)"),
        "n_epochs": (_BASE + "n_epochs: 9\n", "n_epochs is set twice"),
        "three_times": (_BASE + "mode: max\nmode: min\n", "mode is set twice (lines 5 and 21)"),
        "quoted": (_BASE + '"metric": other\n', "metric is set twice"),
        "seed": (_BASE.replace("  seed: 0\n", "  seed: 0\n  seed: 1\n"), "searcher.seed is set"),
        "settings": (
            _BASE.replace("    x:\n", "    x: {uniform: [0, 2]}\n    x:\n"),
            "search.settings.x is set twice",
        ),
        "int_keys": (_BASE + "fixed:\n  1: a\n  0x1: b\n", "fixed.1 is set twice"),
        "bool_keys": (_BASE + "fixed:\n  true: a\n  True: b\n", "fixed.True is set twice"),
        "in_list": (_BASE + "fixed:\n  items:\n  - {a: 1, a: 2}\n", "fixed.items[0].a is set"),
        "flow": (_BASE + "resources: {cpu: 1, cpu: 2}\n", "resources.cpu is set twice"),
    }
    return [Case(f"duplicate_{k}", text, (said,)) for k, (text, said) in texts.items()]


#: counts and rates that must be finite numbers, each with its non-finite values
_FINITE = {
    "asha.reduction_factor": (math.inf, -math.inf, math.nan),
    "resources.cpu": (math.inf, -math.inf, math.nan),
    "resources.gpu": (math.inf, -math.inf, math.nan),
    "n_epochs": (math.inf,),
    "num_samples": (math.inf,),
    "max_concurrent_trials": (math.inf,),
    "checkpoint_every": (math.nan,),
    "keep_checkpoints": (math.inf,),
    "max_failures": (math.inf,),
    "population": (math.inf,),
    "searcher.seed": (math.inf,),
    "searcher.n_startup_trials": (math.nan,),
    "asha.grace_period": (math.inf,),
}
_DISTRIBUTIONS = [
    {"uniform": [0.0, math.inf]},
    {"log_uniform": [1e-3, math.inf]},
    {"int": [1, math.inf]},
    {"uniform": [0.0, 1.0], "step": math.nan},
    {"uniform": [-math.inf, 1.0]},
]
_SEEDS = [-1, -(2**63), 2**32, 2**40, 2**64, 10**30, 4294967296.0, "7", True]


def _numbers() -> list[Case]:
    cases = []
    for key, values in _FINITE.items():
        for value in values:
            name = f"nonfinite_{key.replace('.', '_')}_{value}"
            cases.append(Case(name, dump(with_value(key, value)), (f"{key} is ",)))
    for i, dist in enumerate(_DISTRIBUTIONS):
        data = with_value("search.settings.x", dist)
        cases.append(Case(f"nonfinite_search_{i}", dump(data), ("search.settings.x",)))
    for i, seed in enumerate(_SEEDS):
        cases.append(Case(f"seed_{i}", dump(with_value("searcher.seed", seed)), ("searcher.seed",)))
    return cases


def _not_regular() -> list[Case]:
    size = "more than a space file may be (65536 bytes)"
    return [
        Case("kind_fifo", None, ("is a FIFO (named pipe), not a regular file",), special="fifo"),
        Case("kind_directory", None, ("is a directory, not a regular file",), special="directory"),
        Case("kind_dev_zero", None, ("is a character device",), special="/dev/zero"),
        Case("kind_dev_null", None, ("is a character device",), special="/dev/null"),
        Case("kind_dev_urandom", None, ("is a character device",), special="/dev/urandom"),
        Case("kind_link_loop", None, ("cannot be read",), special="loop"),
        Case("kind_missing", None, ("cannot be read (No such file",), special="missing"),
        Case("size_sparse_50mb", None, (f"is 52428800 bytes, {size}",), special="sparse"),
        Case("size_one_over", "a: " + "x" * (64 * 1024 - 3) + "\n", (f"is 65537 bytes, {size}",)),
        Case("size_long_line", "name: " + "n" * 1_000_000 + "\n", (size,)),
        Case("empty", "", ("is empty, but must be a mapping",)),
        Case("blank", "  \n\n    \n", ("is empty, but must be a mapping",)),
        Case("comment_only", "# nothing here\n", ("is empty, but must be a mapping",)),
    ]


def _nesting() -> list[Case]:
    deeper = "nests deeper than 50 levels"
    block = "".join(f"{'  ' * i}k{i}:\n" for i in range(60)) + "  " * 60 + "v: 1\n"
    items = "a:\n" + "".join(f"{'  ' * i}-\n" for i in range(1, 60)) + "  " * 60 + "- 1\n"
    return [
        Case("deep_brackets", "a: " + "[" * 20_000 + "\n", (deeper,)),
        Case("deep_braces", "a: " + "{a: " * 15_000 + "\n", (deeper,)),
        Case("deep_closed", "a: " + "[" * 100 + "]" * 100 + "\n", (deeper,)),
        Case("deep_block", block, (deeper,)),
        Case("deep_block_list", items, (deeper,)),
        Case("deep_after_keys", _BASE + "fixed: {a: " + "[" * 20_000 + "}\n", (deeper,)),
        Case("many_values", "a: [" + ", ".join(["1"] * 20_000) + "]\n", ("more than 10000",)),
    ]


_LONG = "n" * 5000


def _bounded() -> list[Case]:
    cut = "more characters)"
    unknown = dump({**BASE, **{f"unknown_{i}": i for i in range(300)}})
    return [
        Case("long_name", base_text(name=_LONG), ("name is 'nnnn", cut)),
        Case("long_unknown_key", base_text(**{_LONG: 1}), ("nnnnn", cut)),
        Case("long_trainable_path", base_text(trainable=f"{_LONG}:f"), ("trainable: 'nnn", cut)),
        Case("long_trainable_name", base_text(trainable=_LONG), ("trainable: 'nnn", cut)),
        Case("long_sampler", dump(with_value("searcher.name", _LONG)), ("searcher.name", cut)),
        Case("long_mode", base_text(mode=_LONG), ("mode is 'nnnn", cut)),
        Case("long_searcher_key", dump(with_value(f"searcher.{_LONG}", 1)), ("searcher.nnn", cut)),
        Case("many_unknown_keys", unknown, ("and 250 more problems",)),
        Case("escape_key", base_text(**{"a\nb\x1b[2J": 1}), ("a\\nb\\x1b[2J is not a known key",)),
        Case("escape_value", base_text(mode="\x1b[31mred\r"), ("mode is '\\x1b[31mred\\r'",)),
    ]


def _unbuildable() -> list[Case]:
    cannot = "holds a value YAML cannot read"
    return [
        Case("date_month_13", _BASE + "fixed: {d: 2001-13-45}\n", (cannot, "month must be")),
        Case("date_day_30", _BASE + "fixed: {d: 2001-02-30}\n", (cannot, "day is out of range")),
        Case("tag_int", _BASE + "fixed: {d: !!int x}\n", (cannot, "ValueError")),
        Case("tag_float", _BASE + "fixed: {d: !!float x}\n", (cannot, "ValueError")),
        Case("tag_timestamp", _BASE + "fixed: {d: !!timestamp x}\n", (cannot,)),
        Case("tag_bool", _BASE + "fixed: {d: !!bool maybe}\n", (cannot, "KeyError")),
        Case("key_date", _BASE + "2001-13-45: 1\n", (cannot,)),
    ]


def file_cases() -> list[Case]:
    """Every hostile space file."""
    return _duplicates() + _numbers() + _not_regular() + _nesting() + _bounded() + _unbuildable()
