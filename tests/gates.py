"""Gates: let a test hold a real dream in its worker until the test says go, so that no test
depends on how fast a dream runs (kill it mid-job, see its progress, cancel it, queue behind it).

A job is gated when its image is one of the gate's own (`Gate.png`: a PNG whose text chunk holds
the gate's FIFO path); other jobs run freely. A gated job sends its progress up to the end of
its first octave (with the octave's preview), then waits for one byte on that FIFO
(`Gate.release`), checking for a cancel while it waits. The path travels in the image, so it
reaches any worker: a spawned process, a Ray actor, another `dreambot run`. Run the pool with
the handler `tests.gated_dreamer:GatedDreamer` (or call `wait_at_gate` from a test handler of
your own). Torch-free.
"""

from __future__ import annotations

import io
import os
import select
from collections.abc import Callable
from pathlib import Path

from PIL import Image, PngImagePlugin

from dreamcore.errors import DreamCancelled

KEY = "dreambot-test-gate"  # the PNG text chunk that names the gate's FIFO
HANDLER = "tests.gated_dreamer:GatedDreamer"


def gate_of(image: bytes) -> str | None:
    """The FIFO path a gated image names, or None for an ordinary image."""
    if KEY.encode() not in image:
        return None
    with Image.open(io.BytesIO(image)) as im:
        return im.info.get(KEY)


class Gate:
    """The test's end: a FIFO it keeps open, so releases never block and workers never wait
    to open it. One byte lets one waiting job go on (early releases are kept for later)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "gate.fifo"
        os.mkfifo(self.path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)

    def png(self, side: int = 96, seed: int = 0) -> bytes:
        """A noisy PNG whose dream will wait at this gate."""
        image = Image.effect_noise((side, side), 40 + seed).convert("RGB")
        info = PngImagePlugin.PngInfo()
        info.add_text(KEY, str(self.path))
        buf = io.BytesIO()
        image.save(buf, "PNG", pnginfo=info)
        return buf.getvalue()

    def release(self, jobs: int = 1) -> None:
        os.write(self._fd, b"x" * jobs)

    def close(self) -> None:
        os.close(self._fd)


def wait_at_gate(path: str, should_stop: Callable[[], bool]) -> None:
    """Worker side: block until a byte arrives; a cancel ends the wait."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready and os.read(fd, 1):
                return
            if should_stop():
                raise DreamCancelled("The dream was cancelled.")
    finally:
        os.close(fd)
