"""Pure helpers of the dream cog: layer autocomplete and re-roll."""

import random

from bot.cogs.dream import DreamCog, layer_choices
from dreamcore.request import make_params


def test_layer_choices_put_described_layers_first_and_cap_at_25():
    choices = layer_choices("inception5h", "")
    assert len(choices) == 25
    assert choices[0].value == "conv2d0" and "edges" in choices[0].name
    assert all(len(c.name) <= 100 for c in choices)
    assert [c.value for c in layer_choices("inception5h", "4d_3x3")][:2] == [
        "mixed4d_3x3_bottleneck_pre_relu",
        "mixed4d_3x3_bottleneck",
    ]
    assert layer_choices("tiny", "relu2:3")[0].value == "relu2:3"


def test_reroll_changes_layer_and_seed_keeps_the_rest():
    params = make_params(model="tiny", layer="relu1", octaves=2, steps=3, seed=5, max_side=96)
    for seed in range(10):
        new = DreamCog.reroll_params(params, random.Random(seed))
        assert new.layer != "relu1" and new.layer.startswith("relu")
        assert (new.octaves, new.steps, new.max_side) == (2, 3, 96)
        assert new.seed != 5


def test_the_bot_side_never_imports_torch():
    import subprocess
    import sys

    code = (
        "import sys, bot.client, bot.runner, bot.cogs.dream, bot.cogs.admin, bot.flow, bot.views;"
        "print(any(m == 'torch' or m.startswith('torch.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
