"""Animations end to end: /dream animate, the Animate button, animated uploads; the price is
charged as documented (1 dream + 1 per 4 frames after the first) and shown."""

import io

from PIL import Image

from tests.bot.conftest import E2E, button, dream, finished_result, wait_ledger

pytestmark = E2E


def animation_of(message: dict) -> Image.Image:
    att = next(a for a in message["attachments"] if a["filename"].startswith("dream."))
    return Image.open(io.BytesIO(att["data"]))


def fields(message: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}


async def test_dream_animate_zoom_delivers_an_animation_and_charges_its_price(fake, bot, gate):
    alice = fake.add_member(name="alice")
    rec = await dream(fake, alice, gate.png(96), octaves=2, steps=2, animate="zoom", frames=5)
    # held after the first octave of frame 1: the progress says which frame
    await rec.wait_until(lambda r: r.original and "frame 1/5" in r.original["content"], 30)
    gate.release()
    msg = await finished_result(rec)
    with animation_of(msg) as anim:
        assert anim.format == "WEBP" and anim.n_frames == 5
    assert fields(msg)["Cost"].startswith("2 dreams")  # 1 + ceil(4 / 4)
    assert "Animate" not in str(msg["components"])  # no Animate under an animation
    rows = await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
    assert (rows[0].units, rows[0].cost) == (2, 2)
    rec = await fake.slash_command("quota me", {}, user=alice)
    text = (await rec.wait_for_callback(5)).data["content"]
    assert "**18** of 20" in text and "an animation 1 + 1 per 4 frames" in text


async def test_the_animate_button_zooms_into_a_still(fake, bot):
    alice = fake.add_member(name="alice")
    still = await finished_result(await dream(fake, alice))
    assert button(still, "animate")
    msg = await finished_result(
        await fake.click_button(still, button(still, "animate"), user=alice)
    )
    with animation_of(msg) as anim:
        assert anim.n_frames == 16  # the default, under the server's cap
    assert "animate zoom" in fields(msg)["Settings"]
    rows = await wait_ledger(bot, lambda rows: len(rows) == 2 and rows[0].status == "done")
    assert rows[0].units == 5  # 1 + ceil(15 / 4)


async def test_a_servers_frame_cap_applies_and_an_animated_upload_comes_back_animated(fake, bot):
    admin, alice = fake.add_member(name="boss", admin=True), fake.add_member(name="alice")
    rec = await fake.slash_command("dreamconfig", {"max_frames": 3}, user=admin)
    assert "up to 3 frames" in (await rec.wait_for_callback(5)).data["content"]
    frames = [Image.effect_noise((64, 64), 30 + 9 * i).convert("RGB") for i in range(6)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=60, loop=0)
    msg = await finished_result(
        await dream(fake, alice, buf.getvalue(), filename="a.gif", ctype="image/gif")
    )
    with animation_of(msg) as anim:
        assert anim.n_frames == 3
    assert "3 of the 6 frames" in fields(msg)["Notes"]
    assert [a["filename"] for a in msg["attachments"]][1] == "source.gif"  # travels whole


async def test_a_zoom_of_an_animated_upload_is_charged_for_the_frames_it_makes(fake, bot):
    # issue 19 #2: a 2-frame GIF with animate:zoom frames:6 was priced as 2 frames (2 dreams)
    alice = fake.add_member(name="alice")
    frames = [Image.effect_noise((64, 64), 30 + 9 * i).convert("RGB") for i in range(2)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=60, loop=0)
    rec = await dream(
        fake, alice, buf.getvalue(), filename="a.gif", ctype="image/gif", animate="zoom", frames=6
    )
    msg = await finished_result(rec)
    with animation_of(msg) as anim:
        assert anim.n_frames == 6
    assert fields(msg)["Cost"].startswith("3 dreams")  # 1 + ceil(5 / 4)
    rows = await wait_ledger(bot, lambda rows: rows and rows[0].status == "done")
    assert (rows[0].units, rows[0].cost) == (3, 3)


async def test_a_video_comes_back_animated_and_as_mp4_when_asked(fake, bot):
    """issue 23: an MP4 upload (sound and all) is dreamed frame by frame, priced by the frames
    it makes, answered as an animated WebP (or an MP4 with output:mp4), its source beside it."""
    import pytest

    pytest.importorskip("av", reason="videos need PyAV (the `video` extra)")
    from tests import videos as V

    alice = fake.add_member(name="alice")
    pictures = [Image.effect_noise((64, 64), 30 + 9 * i).convert("RGB") for i in range(5)]
    clip = V.clip("mp4", pictures=pictures, audio=True)
    msg = await finished_result(
        await dream(fake, alice, clip, filename="clip.mp4", ctype="video/mp4")
    )
    with animation_of(msg) as anim:
        assert anim.format == "WEBP" and anim.n_frames == 5
    assert fields(msg)["Cost"].startswith("2 dreams")  # 1 + ceil(4 / 4)
    assert [a["filename"] for a in msg["attachments"]][1] == "source.mp4"  # travels whole
    msg = await finished_result(
        await dream(fake, alice, clip, filename="clip.mp4", ctype="video/mp4", output="mp4")
    )
    dreamed = next(a for a in msg["attachments"] if a["filename"].startswith("dream."))
    assert dreamed["filename"] == "dream.mp4" and dreamed["data"][4:8] == b"ftyp"
