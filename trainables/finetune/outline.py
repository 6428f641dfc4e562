"""The finetune model's layers and module tree, without torch (checking a config needs no model).

`FINETUNE_OUTLINE` is `FinetuneNet`'s module tree whatever its `hidden_dim` (a test checks it
against the model), so `finetune_config_problems` finds the same layers, and names the same
modules in its messages, as the model would.
"""

from __future__ import annotations

from trainables.lr.outline import ModuleOutline

#: the model's layers as `layers:` module paths, bottom to top
FINETUNE_LAYERS = ("body.*", "head")
#: its parameter groups: one per layer, bottom to top
FINETUNE_GROUPS = ("body.layer1", "body.layer2", "body.layer3", "head")


def _block() -> ModuleOutline:
    """Linear then ReLU, as an `nn.Sequential`."""
    linear, relu = ModuleOutline("Linear", params=True), ModuleOutline("ReLU")
    return ModuleOutline("Sequential", (("0", linear), ("1", relu)))


FINETUNE_OUTLINE = ModuleOutline(
    "FinetuneNet",
    (
        ("body", ModuleOutline("Sequential", tuple((f"layer{i}", _block()) for i in (1, 2, 3)))),
        ("head", ModuleOutline("Linear", params=True)),
    ),
    group_names=FINETUNE_GROUPS,
)
