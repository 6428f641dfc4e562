"""One lookup of the trainable class per sweep instead of several per trial.

Ray Tune finds a trial's trainable class by name in its registry, which lives in the GCS: each
`get_trainable_cls` is two key-value round trips and an unpickle of the class, and a trial
does it four to five times (creating it, validating it, sizing its resources, starting its
actor). `remembered_trainables()` keeps the classes the driver has read during a sweep: the
registry entry of a name does not change while the sweep runs (the Tuner registers it once,
before `fit`), and the class object, now the same for every trial, also lets Tune's own
actor-class cache hit. Ray's registry object is private: only when `tuner.ray_patches` allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tuner.ray_patches import patches_enabled


@contextmanager
def remembered_trainables() -> Iterator[None]:
    """Within the block, the driver reads each trainable class from Ray's registry once."""
    if not patches_enabled():
        yield
        return
    from ray.tune import registry

    store = registry._global_registry  # noqa: SLF001 (the module's single registry)
    get, contains = store.get, store.contains
    classes: dict[str, Any] = {}

    def remembered_get(category: str, key: str) -> Any:
        if category != registry.TRAINABLE_CLASS:
            return get(category, key)
        if key not in classes:
            classes[key] = get(category, key)
        return classes[key]

    def remembered_contains(category: str, key: str) -> bool:
        if category == registry.TRAINABLE_CLASS and key in classes:
            return True
        return contains(category, key)

    store.get, store.contains = remembered_get, remembered_contains
    try:
        yield
    finally:
        del store.get, store.contains  # the class's own methods again
