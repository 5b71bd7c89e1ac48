"""dreamcore.frames: how many frames a request makes (what the bot prices, the worker makes)."""

from dreamcore.config import EngineConfig
from dreamcore.frames import frames_made
from dreamcore.request import make_params

ENGINE = EngineConfig(max_animation_frames=64, max_animation_pixels=64 * 512 * 512)
ONE = 512 * 512  # one frame's pixels


def made(upload_frames: int, pixels: int = ONE, engine: EngineConfig = ENGINE, **knobs) -> int:
    params = make_params(model="tiny", **knobs)
    return frames_made(params, upload_frames=upload_frames, pixels=pixels, engine=engine)


def test_a_still_makes_one_frame():
    assert made(1) == 1
    assert made(1, frames=8) == 1  # `frames` alone animates nothing


def test_a_motion_makes_its_frames_whatever_the_upload_has():
    assert made(1, animate="zoom") == 16  # the default
    assert made(1, animate="zoom", frames=100) == 64  # the engine's cap
    # an animated upload (or an earlier zoom thinned to fit) is moved into from its first frame:
    # its own frame count says nothing about how many the motion makes
    assert made(2, animate="zoom", frames=64) == 64
    assert made(20, animate="spin", frames=40) == 40
    assert made(30, animate="pan") == 16


def test_an_animated_upload_makes_its_own_frames_or_fewer():
    assert made(30) == 30  # all of them
    assert made(30, frames=8) == 8
    assert made(100) == 64  # the engine's cap
    assert made(3, frames=10) == 3  # never more than it has


def test_the_pixel_budget_caps_every_animation_but_leaves_two_frames():
    small = EngineConfig(max_animation_frames=64, max_animation_pixels=10 * ONE)
    assert made(30, engine=small) == 10
    assert made(1, engine=small, animate="zoom", frames=40) == 10
    assert made(30, pixels=20 * ONE, engine=small) == 2
    assert made(1, pixels=0, animate="zoom", frames=40) == 40  # size unknown yet: no pixel cap
