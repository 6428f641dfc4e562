"""Property: every generated declaration samples values inside itself, and only those."""

from __future__ import annotations

import optuna
from hypothesis import given, settings
from hypothesis import strategies as st

from search_spaces import SearchDef, define_search

GROUPS = ("encoder.shared", "encoder.subjects", "decoder.shared", "dsr.shared", "dsr.subjects")
NAMES = st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True)
PRIMITIVES = st.one_of(st.integers(-5, 5), st.text("abc", max_size=3), st.none())


@st.composite
def declarations(draw):
    """(raw declaration, predicate every sampled value must satisfy, whether Optuna records it)."""
    kind = draw(st.sampled_from(["log_uniform", "uniform", "int", "int_log", "choice", "const"]))
    if kind == "log_uniform":
        low = draw(st.floats(1e-6, 1.0))
        high = low * draw(st.floats(1.01, 1e3))
        return {"log_uniform": [low, high]}, lambda v: low <= v <= high, True
    if kind == "uniform":
        low = draw(st.floats(-10, 10))
        high = low + draw(st.floats(0.01, 10))
        return {"uniform": [low, high]}, lambda v: low <= v <= high, True
    if kind in ("int", "int_log"):
        low = draw(st.integers(1, 50) if kind == "int_log" else st.integers(-50, 50))
        high = low + draw(st.integers(1, 100))
        raw = {"int": [low, high], **({"log": True} if kind == "int_log" else {})}
        return raw, lambda v: isinstance(v, int) and low <= v <= high, True
    if kind == "choice":
        options = draw(st.lists(PRIMITIVES, min_size=1, max_size=5, unique=True))
        return {"choice": options}, lambda v: v in options, True
    value = draw(st.one_of(PRIMITIVES, st.lists(st.integers(0, 3), max_size=3)))
    return value, lambda v: v == value, False


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(NAMES, declarations(), min_size=1, max_size=4), st.integers(0, 1000))
def test_every_generated_declaration_samples_inside_itself(decls, seed):
    spec = SearchDef.model_validate({"settings": {k: raw for k, (raw, _, _) in decls.items()}})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(5):
        trial = study.ask()
        out = define_search(trial, spec, n_epochs=10, group_names=GROUPS)
        assert set(out) == set(decls)
        for name, (_, holds, recorded) in decls.items():
            assert holds(out[name]), (name, out[name])
            assert (name in trial.params) == recorded
