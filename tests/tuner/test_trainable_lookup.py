"""The driver reads a sweep's trainable class from Ray's registry once, not on every lookup."""

from __future__ import annotations

import pytest
from ray import tune
from ray.tune.registry import (
    TRAINABLE_CLASS,
    _global_registry,
    get_trainable_cls,
    register_trainable,
    validate_trainable,
)

from tests.tuner.patched_side import patched_side
from tuner.trainable_lookup import remembered_trainables


def _trainable(config: dict) -> None:
    tune.report({"score": float(config.get("x", 0.0))})


@patched_side
def test_within_a_sweep_the_class_is_read_from_the_gcs_once(ray_local: None) -> None:
    """Once read, the class comes from the driver's memory: deleting the GCS entry does not
    change what the block sees; outside the block Ray reads the GCS again, and misses."""
    register_trainable("lookup_probe", _trainable)
    with remembered_trainables():
        first = get_trainable_cls("lookup_probe")
        _global_registry.unregister(TRAINABLE_CLASS, "lookup_probe")  # gone from the GCS
        assert get_trainable_cls("lookup_probe") is first
        validate_trainable("lookup_probe")
        with pytest.raises(Exception, match="never_registered"):
            get_trainable_cls("never_registered")  # unknown names: Ray's own error
    with pytest.raises(Exception, match="lookup_probe"):
        get_trainable_cls("lookup_probe")
    register_trainable("lookup_probe", _trainable)
    assert get_trainable_cls("lookup_probe").__name__ == first.__name__
