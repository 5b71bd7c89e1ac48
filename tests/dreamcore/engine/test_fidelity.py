"""The bf16 fast path dreams the same dream as fp32 (trained vgg16-hed, same photo, same seed).

Yardstick: the same fp32 dream with another seed (other jitter offsets). Dreaming is chaotic, so
rounding differences grow over the steps; bf16 must still land closer to the fp32 dream than a
change of seed does, and raise the objective as much. Measured on a Sapphire Rapids CPU (AMX):

    objective gain (judged by the fp32 net)   fp32 18.80   bf16 18.75 (-0.25%)   seed 8: 18.98
    mean |dream - fp32 dream| (0..255)        bf16 4.4     seed 8: 8.4   (the dream's change: 12.1)
    correlation of the change with fp32's     bf16 0.935   seed 8: 0.765
"""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from dreamcore.config import EngineConfig
from dreamcore.engine.device import native_bf16_flags
from dreamcore.engine.dreamer import Dreamer
from dreamcore.engine.gradient import Gradient
from dreamcore.engine.objectives import LayerObjective
from dreamcore.request import DreamRequest, make_params
from tests.helpers import photo

pytestmark = pytest.mark.skipif(
    not native_bf16_flags(),
    reason="this CPU has no native bf16 (torch.cpu.get_capabilities() reports neither amx_bf16 "
    "nor avx512_bf16), so precision auto runs fp32 and the bf16 path is not used here",
)

LAYER = "relu4_3"
GAIN_TOLERANCE = 0.03  # 3x the seed-to-seed spread of the gain (1.0%), 12x bf16's own (0.25%)
DIFF_VS_SEED = 0.75  # bf16's distance to the fp32 dream, as a share of another seed's (0.52)
MIN_CORRELATION = 0.85  # of bf16's change with fp32's (0.935; another seed's: 0.765)


def _dream(precision: str, seed: int) -> np.ndarray:
    config = EngineConfig(models=("vgg16-hed",), device="cpu", precision=precision)
    params = make_params(
        model="vgg16-hed", layer=LAYER, octaves=3, steps=8, seed=seed, max_side=320
    )
    result = Dreamer(config).run(DreamRequest(image=photo("chelsea.jpg"), params=params))
    return np.asarray(Image.open(io.BytesIO(result.image)).convert("RGB"), dtype=np.float64)


@pytest.fixture(scope="module")
def dreams():
    fp32, bf16, other_seed = _dream("fp32", 7), _dream("bf16", 7), _dream("fp32", 8)
    height, width, _ = fp32.shape
    source = Image.open(io.BytesIO(photo("chelsea.jpg"))).convert("RGB")
    before = np.asarray(source.resize((width, height), Image.LANCZOS), dtype=np.float64)
    return before, fp32, bf16, other_seed


def _objective(pixels: np.ndarray) -> float:
    """The classic objective of an H x W x 3 image, judged by the fp32 network for all."""
    config = EngineConfig(models=("vgg16-hed",), device="cpu", precision="fp32")
    net = Dreamer(config).model("vgg16-hed")
    image = torch.from_numpy(pixels).permute(2, 0, 1)[None].float().contiguous()
    return Gradient(net, LayerObjective(LAYER)).objective_value(image)


def test_bf16_raises_the_objective_as_much_as_fp32(dreams):
    before, fp32, bf16, _ = dreams
    start = _objective(before)
    gain_fp32, gain_bf16 = _objective(fp32) / start, _objective(bf16) / start
    assert abs(gain_bf16 / gain_fp32 - 1) < GAIN_TOLERANCE, (gain_fp32, gain_bf16)


def test_bf16_lands_closer_to_the_fp32_dream_than_another_seed_does(dreams):
    before, fp32, bf16, other_seed = dreams
    precision_diff = np.abs(bf16 - fp32).mean()
    seed_diff = np.abs(other_seed - fp32).mean()
    assert precision_diff < DIFF_VS_SEED * seed_diff, (precision_diff, seed_diff)
    correlation = np.corrcoef((bf16 - before).ravel(), (fp32 - before).ravel())[0, 1]
    assert correlation > MIN_CORRELATION, correlation
