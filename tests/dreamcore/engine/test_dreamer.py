import io

import pytest
import torch
from PIL import Image

from dreamcore.config import EngineConfig
from dreamcore.engine.dreamer import Dreamer
from dreamcore.errors import DreamCancelled, InvalidImage, UnknownModel
from dreamcore.request import DreamRequest, make_params
from tests.helpers import noise_png


@pytest.fixture(scope="module")
def dreamer():
    return Dreamer(EngineConfig(models=("tiny",), device="cpu"))


def encode(im: Image.Image, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def run(dreamer, data, **params):
    params = {"model": "tiny", "octaves": 2, "steps": 2, "seed": 1, **params}
    return dreamer.run(DreamRequest(image=data, params=make_params(**params)))


def test_result_is_a_png_of_the_input_size_with_seed_and_objectives(dreamer):
    r = run(dreamer, noise_png((97, 61)))
    im = Image.open(io.BytesIO(r.image))
    assert (r.format, im.format, im.size, (r.width, r.height)) == ("png", "PNG", (97, 61), (97, 61))
    assert r.seed == 1 and r.target == "relu3" and r.octaves_run == 2
    assert r.objective_start > 0 and r.objective_end > 0


def test_same_seed_same_bytes_and_unseeded_runs_report_their_seed(dreamer):
    data = noise_png((64, 64), seed=3)
    assert run(dreamer, data).image == run(dreamer, data).image
    r = run(dreamer, data, seed=None)
    assert run(dreamer, data, seed=r.seed).image == r.image


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_seeded_runs_are_reproducible_in_each_precision(precision):
    dreamer = Dreamer(EngineConfig(models=("tiny",), device="cpu", precision=precision))
    data = noise_png((64, 48), seed=5)
    assert run(dreamer, data).image == run(dreamer, data).image


def test_alpha_is_kept_and_put_back(dreamer):
    im = Image.new("RGBA", (80, 60), (200, 100, 50, 255))
    im.paste((0, 0, 0, 0), (0, 0, 40, 60))  # left half transparent
    out = Image.open(io.BytesIO(run(dreamer, encode(im)).image))
    assert out.mode == "RGBA"
    alpha = out.getchannel("A")
    assert alpha.getpixel((10, 30)) == 0 and alpha.getpixel((70, 30)) == 255


def gradient_in_mode(mode: str) -> Image.Image:
    base = Image.frombytes(
        "L", (72, 50), bytes((x * 3 + y) % 256 for y in range(50) for x in range(72))
    )
    if mode == "I;16":  # 16-bit: spread 0..255 over 0..65280
        return base.convert("I").point(lambda v: v * 256).convert("I;16")
    if mode in ("P", "CMYK"):
        return base.convert("RGB").convert(mode)
    return base.convert(mode)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "I;16", "LA", "1"])
def test_odd_modes_become_rgb_dreams_of_the_same_size(dreamer, mode):
    data = encode(gradient_in_mode(mode), "JPEG" if mode == "CMYK" else "PNG")
    out = Image.open(io.BytesIO(run(dreamer, data).image))
    assert out.size == (72, 50) and out.mode == "RGB"


def test_max_side_and_engine_cap_bound_the_output(dreamer):
    big = noise_png((400, 200))
    assert Image.open(io.BytesIO(run(dreamer, big, max_side=128).image)).size == (128, 64)
    capped = Dreamer(EngineConfig(models=("tiny",), device="cpu", max_side_cap=100))
    assert Image.open(io.BytesIO(run(capped, big, max_side=1024).image)).size == (100, 50)


def test_output_fits_the_byte_limit(dreamer):
    r = dreamer.run(
        DreamRequest(
            image=noise_png((256, 256)),
            params=make_params(model="tiny", octaves=1, steps=1),
            output_max_bytes=20_000,
        )
    )
    assert len(r.image) <= 20_000 and r.format in ("webp", "jpeg", "png")


def test_bad_inputs_are_clear_errors(dreamer):
    with pytest.raises(InvalidImage):
        run(dreamer, b"this is not an image")
    with pytest.raises(InvalidImage, match="too small"):
        run(dreamer, noise_png((3, 300)))
    with pytest.raises(UnknownModel, match="not offered"):
        run(dreamer, noise_png(), model="inception5h")


def test_progress_events_and_previews_then_cancel(dreamer):
    events = []
    req = DreamRequest(
        image=noise_png((64, 64)),
        params=make_params(model="tiny", octaves=2, steps=3),
        preview=True,
    )
    dreamer.run(req, events.append)
    assert [(e.octave, e.step) for e in events] == [(o, s) for o in (1, 2) for s in (1, 2, 3)]
    assert [e.preview is not None for e in events] == [False, False, True] * 2
    assert Image.open(io.BytesIO(events[-1].preview)).format == "JPEG"
    assert events[-1].fraction == 1.0
    with pytest.raises(DreamCancelled):
        dreamer.run(req, should_stop=lambda: True)


def test_a_cpu_engine_leaves_cudnns_process_wide_setting_alone():
    # engine.cudnn_benchmark is for CUDA workers; a CPU engine in the same process (tests, the
    # sandbox) must not flip a flag that another engine there relies on
    before = torch.backends.cudnn.benchmark
    try:
        torch.backends.cudnn.benchmark = False
        Dreamer(EngineConfig(models=("tiny",), device="cpu", cudnn_benchmark=True))
        assert torch.backends.cudnn.benchmark is False
    finally:
        torch.backends.cudnn.benchmark = before
