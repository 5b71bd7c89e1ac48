"""bot.params: options to DreamParams, the server's size cap, re-roll, layer autocomplete, and
the frames an animation is priced for (exactly those the worker makes)."""

import io
import random

import pytest
from PIL import Image

from bot.guilds import GuildSettings
from bot.intake import _checked
from bot.params import animated, build_params, frames_of, layer_choices, reroll, within_guild
from dreamcore.config import EngineConfig
from dreamcore.errors import UnknownModel
from dreamcore.request import DreamRequest, make_params
from tests.helpers import noise_png

ENGINE = EngineConfig(models=("tiny",), default_model="tiny", max_side_cap=512, tile_size=256)


def guild(max_side=None) -> GuildSettings:
    return GuildSettings(1, (), max_side, True, "🌀")


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
        new = reroll(params, random.Random(seed))
        assert new.layer != "relu1" and new.layer.startswith("relu")
        assert (new.octaves, new.steps, new.max_side) == (2, 3, 96)
        assert new.seed != 5


def test_new_dreams_obey_the_engine_and_server_caps():
    assert build_params(ENGINE, guild()).max_side == 512  # default 1024, engine cap 512
    assert build_params(ENGINE, guild(200), size=400).max_side == 200
    assert build_params(ENGINE, guild(), size=100).max_side == 100
    assert build_params(ENGINE, guild(), preset="textures").layer == "relu1"
    with pytest.raises(UnknownModel, match="not offered"):
        build_params(ENGINE, guild(), model="vgg16")


def test_settings_read_back_from_an_old_result_obey_todays_server_cap():
    old = make_params(model="tiny", max_side=480, seed=3)
    assert within_guild(old, ENGINE, guild(128)).max_side == 128
    assert within_guild(old, ENGINE, guild()) == old


def animation(frames: int, fmt: str = "GIF") -> bytes:
    images = [Image.effect_noise((64, 48), 20 + 9 * i).convert("RGB") for i in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, fmt, save_all=True, append_images=images[1:], duration=80, loop=0)
    return buf.getvalue()


ANIMATOR = EngineConfig(
    models=("tiny",), default_model="tiny", device="cpu", max_animation_frames=7
)
FEW_PIXELS = ANIMATOR.model_copy(update={"max_animation_pixels": 64 * 48 * 3})


@pytest.mark.parametrize(
    ("engine", "image", "knobs", "frames"),
    [
        (ANIMATOR, animation(2), dict(animate="zoom", frames=6), 6),  # priced as 2 before
        (ANIMATOR, animation(3, "WEBP"), dict(animate="zoom", frames=5), 5),  # a thinned zoom
        (ANIMATOR, animation(2), dict(animate="spin"), 7),  # 16 by default, under the cap
        (ANIMATOR, animation(5), dict(frames=3), 3),  # an upload, sampled
        (ANIMATOR, animation(4), {}, 4),  # an upload, frame for frame
        (ANIMATOR, noise_png(), dict(animate="pan", frames=4), 4),
        (FEW_PIXELS, animation(2), dict(animate="zoom", frames=6), 3),  # the pixel budget
        (ANIMATOR, noise_png(), {}, 1),
    ],
    ids=["gif-zoom", "thinned-zoom", "gif-spin", "sampled", "upload", "pan", "pixels", "still"],
)
def test_an_animation_is_priced_for_the_frames_the_worker_makes(engine, image, knobs, frames):
    from dreamcore.engine.dreamer import Dreamer

    params = make_params(
        model="tiny", octaves=1, steps=1, frame_steps=1, seed=1, max_side=64, **knobs
    )
    held = _checked(image, engine, params.max_side, guide=False)  # what the intake holds
    params = animated(params, held, engine, guild())
    priced = frames_of(params, held, engine)
    result = Dreamer(engine).run(DreamRequest(image=image, params=params))
    assert priced == result.frames == frames


def test_the_bot_side_never_imports_torch():
    import subprocess
    import sys

    code = (
        "import sys, bot.client, bot.runner, bot.cogs.dream, bot.cogs.admin, bot.flow, bot.buttons;"
        "print(any(m == 'torch' or m.startswith('torch.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
