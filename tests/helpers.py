"""Small helpers shared by tests: images made on the fly, paths to committed photos."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

DATA = Path(__file__).parent / "data"


def png_bytes(size=(64, 48), mode="RGB", color=(120, 160, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, "PNG")
    return buf.getvalue()


def noise_png(size=(64, 48), seed=0) -> bytes:
    import random

    rng = random.Random(seed)
    im = Image.frombytes(
        "RGB", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3))
    )
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def photo(name: str = "chelsea.jpg") -> bytes:
    return (DATA / name).read_bytes()


def dream_result(**values):
    """A DreamResult as a worker would send it (tiny model), with what a test changes."""
    from dreamcore.request import DreamResult

    base = dict(
        image=b"x",
        format="png",
        width=64,
        height=64,
        seed=1,
        model="tiny",
        target="relu1",
        octaves_run=1,
        seconds=0.5,
        objective_start=0.0,
        objective_end=1.0,
    )
    return DreamResult(**{**base, **values})
