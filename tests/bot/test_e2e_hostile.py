"""Hostile and unusual images through the real intake path.

Each image is the `image` attachment of `/dream`, sent through the loopback Discord to one running
DreamBot (shared by the module) with a real pool worker and the tiny model. Each case checks:
- the user gets a clear, specific answer (key words of the message),
- the worker survives (no pool restart, same worker pids) and the job doesn't hang (bounded waits),
- refused images cost nothing (no ledger row, quota status unchanged); accepted ones cost one.

The shared bot's download cap is 200 kB (`intake.max_download_bytes`): every other image here is
far below it, and the cap case sends ~300 kB.
"""

from __future__ import annotations

import asyncio
import io

import pytest
import pytest_asyncio
from PIL import Image

from bot.settings import IntakeConfig
from localdiscord import inject
from localdiscord.server import FakeDiscord
from tests import hostile_animations as HA
from tests.bot import hostile_images as H
from tests.bot.conftest import E2E, FAST, RunningBot, finished_result, has_file, make_settings

pytestmark = E2E

CAP = 200_000
ANSWER_TIMEOUT = 30.0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hfake():
    async with FakeDiscord(allow_message_content=True) as f:
        yield f


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hbot(hfake, pool, tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "bot.sqlite3"
    settings = make_settings(
        hfake, path, intake=IntakeConfig(allowed_hosts=("127.0.0.1",), max_download_bytes=CAP)
    )
    runner = RunningBot(hfake, settings, pool)
    bot = await runner.start()
    yield bot
    await runner.stop()


class Watch:
    """Pool health and the user's quota before a case, compared after it."""

    def __init__(self, bot, user) -> None:
        self.bot, self.user = bot, user
        self.user_id = int(user["user"]["id"])

    async def __aenter__(self) -> Watch:
        self.restarts = self.bot.services.backend.stats().worker_restarts
        self.pids = self.bot.services.backend.worker_pids()
        self.rows = {r.job_id for r in await self.bot.services.store.jobs()}
        return self

    async def __aexit__(self, *exc: object) -> None:
        if exc[0] is None:
            assert self.bot.services.backend.stats().worker_restarts == self.restarts, (
                "a worker was restarted"
            )
            assert self.bot.services.backend.worker_pids() == self.pids, "a worker was replaced"

    async def quota(self):
        guild_id = int(self.bot.guilds[0].id)
        return await self.bot.services.quota.status(
            user_id=self.user_id, guild_id=guild_id, role_ids=[]
        )

    async def new_rows(self):
        return [r for r in await self.bot.services.store.jobs() if r.job_id not in self.rows]

    async def settled(self, timeout: float = 20.0) -> list:
        """The new ledger rows once none is in flight (bounded)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            rows = await self.new_rows()
            if rows and all(r.status not in ("reserved", "running") for r in rows):
                return rows
            assert loop.time() < end, f"ledger never settled: {rows}"
            await asyncio.sleep(0.05)

    async def assert_not_charged(self) -> None:
        assert await self.new_rows() == [], "a refused image left a ledger row"
        q = await self.quota()
        assert (q.used_today, q.in_flight) == (0, 0), q

    async def assert_charged_once(self, units: int = 1) -> None:
        rows = await self.settled()  # the charge lands just after the upload
        assert len(rows) == 1 and rows[0].cost == units and rows[0].user_id == self.user_id, rows
        q = await self.quota()
        assert (q.used_today, q.in_flight) == (units, 0), q


async def send(fake, user, data: bytes, filename: str, ctype: str, **options):
    opts = {**FAST, "steps": 1, **options}
    return await fake.slash_command(
        "dream", opts, user=user, attachments={"image": (filename, data, ctype)}
    )


async def refusal_text(rec) -> str:
    """The text the user finally sees for a refused image (never a file)."""
    await rec.wait_for_callback(5)
    text = await rec.wait_until(
        lambda r: next((m["content"] for m in r.messages if m.get("content")), None), ANSWER_TIMEOUT
    )
    assert not any(has_file(m) for m in rec.messages)
    return text


def result_image(msg: dict) -> Image.Image:
    im = Image.open(io.BytesIO(msg["attachments"][0]["data"]))
    im.load()
    return im


def notes_of(msg: dict) -> str:
    fields = {f["name"]: f["value"] for e in msg.get("embeds", []) for f in e.get("fields", [])}
    return fields.get("Notes", "")


REFUSED = [
    # id, bytes, filename, content type, words the answer must contain
    (
        "bomb",
        H.png_bomb(50_000, 50_000),
        "bomb.png",
        "image/png",
        ["too large", "pixels, the limit is"],
    ),
    ("truncated-png", H.truncated(H.png(96, 96)), "cut.png", "image/png", ["cut off", "truncated"]),
    (
        "truncated-jpeg",
        H.truncated(H.jpeg(96, 96)),
        "cut.jpg",
        "image/jpeg",
        ["cut off", "truncated"],
    ),
    ("zero-bytes", b"", "empty.png", "image/png", ["empty", "0 bytes"]),
    (
        "text-as-png",
        b"definitely not a picture\n" * 20,
        "fake.png",
        "image/png",
        ["isn't an image", "PNG"],
    ),
    ("1x1", H.png(1, 1), "dot.png", "image/png", ["too small", "1x1"]),
    ("strip-10000x3", H.png(10_000, 3), "strip.png", "image/png", ["too small", "10000x3"]),
    # animations whose later frames cost gigabytes or minutes to decode (issue 19)
    (
        "gif-far-off-frame",
        HA.gif_far_off_frame(),
        "far.gif",
        "image/gif",
        ["too large", "12000x12000 pixels, the limit is 64,000,000 pixels"],
    ),
    (
        "gif-huge-screen",
        HA.gif_huge_screen(100),
        "screen.gif",
        "image/gif",
        ["too large to decode", "100 frames of 8000x8000", "the limit is 256,000,000 pixels"],
    ),
    (
        "webp-big-canvas",
        HA.webp_big_canvas(20),
        "canvas.webp",
        "image/webp",
        ["too large to decode", "20 frames of 8000x8000", "the limit is 256,000,000 pixels"],
    ),
    (
        "tiff-huge-page",
        HA.tiff_huge_second_page(),
        "pages.tiff",
        "image/tiff",
        ["too large", "13000x13000 pixels, the limit is 64,000,000 pixels"],
    ),
    (
        "over-download-cap",
        H.incompressible_png(300_000),
        "big.png",
        "image/png",
        ["too big", "limit", "195 KiB"],
    ),
]


@pytest.mark.parametrize(
    "data,filename,ctype,words", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
async def test_refused_with_a_specific_reason_and_costs_nothing(
    hfake, hbot, data, filename, ctype, words
):
    user = hfake.add_member(name=f"u-{filename}")
    async with Watch(hbot, user) as w:
        rec = await send(hfake, user, data, filename, ctype)
        text = await refusal_text(rec)
        if len(data) > CAP:  # refused on the declared size: never downloaded
            assert (
                hfake.state.downloads.count(
                    next(iter(rec.payload["data"]["resolved"]["attachments"]))
                )
                == 0
            )
        for word in words:
            assert word in text, text
        assert "Traceback" not in text and "job `" not in text, text
        await w.assert_not_charged()


async def test_attachment_that_lies_about_its_size_is_cut_off_at_the_cap(hfake, hbot):
    """Declared 10 kB, really ~300 kB: the download stops at the cap, not trusting the header."""
    user = hfake.add_member(name="liar")
    data = H.incompressible_png(300_000)
    async with Watch(hbot, user) as w:
        payload = inject.interaction_base(hfake.state, 2, user, None)
        payload["data"] = inject.build_command_data(
            hfake.state,
            "dream",
            {**FAST, "steps": 1},
            attachments={"image": ("big.png", data, "image/png")},
        )
        for att in payload["data"]["resolved"]["attachments"].values():
            att["size"] = 10_000
        rec = await hfake._dispatch_interaction(payload)
        text = await refusal_text(rec)
        assert "too big" in text and "195 KiB" in text, text
        aid = next(iter(payload["data"]["resolved"]["attachments"]))
        assert aid in hfake.state.downloads  # the declared size passed; the real size did not
        await w.assert_not_charged()


async def test_strip_too_thin_only_at_the_requested_size_is_refused_at_intake(hfake, hbot):
    """600x90 is fine at the engine's cap, but at the requested size 64 it would be 64x10: the
    intake checks at the requested size, so it is refused before any quota is reserved."""
    user = hfake.add_member(name="thin")
    async with Watch(hbot, user) as w:
        rec = await send(hfake, user, H.png(600, 90), "thin.png", "image/png", size=64)
        text = await refusal_text(rec)
        assert "too small" in text and "600x90" in text, text
        await w.assert_not_charged()


async def test_cmyk_jpeg_dreams(hfake, hbot):
    user = hfake.add_member(name="cmyk")
    async with Watch(hbot, user) as w:
        msg = await finished_result(
            await send(hfake, user, H.cmyk_jpeg(), "cmyk.jpg", "image/jpeg"), ANSWER_TIMEOUT
        )
        assert result_image(msg).size == (64, 64)
        await w.assert_charged_once()


async def test_16_bit_png_dreams(hfake, hbot):
    user = hfake.add_member(name="png16")
    async with Watch(hbot, user) as w:
        msg = await finished_result(
            await send(hfake, user, H.png16(), "deep.png", "image/png"), ANSWER_TIMEOUT
        )
        im = result_image(msg)
        assert im.size == (64, 64)
        assert im.convert("L").getextrema()[1] > 32  # not crushed to black by a 16->8 bit clip
        await w.assert_charged_once()


async def test_palette_png_with_transparency_keeps_its_alpha(hfake, hbot):
    user = hfake.add_member(name="palette")
    async with Watch(hbot, user) as w:
        rec = await send(hfake, user, H.palette_png_with_transparency(), "pal.png", "image/png")
        msg = await finished_result(rec, ANSWER_TIMEOUT)
        im = result_image(msg)
        assert "A" in im.getbands(), im.mode
        alpha = im.getchannel("A")
        assert im.size == (64, 64)
        assert (
            alpha.getpixel((5, 32)) < 32 and alpha.getpixel((58, 32)) > 223
        )  # left half transparent
        await w.assert_charged_once()


@pytest.mark.parametrize(
    "fmt,ctype", [("GIF", "image/gif"), ("WEBP", "image/webp"), ("PNG", "image/png")]
)
async def test_animated_upload_comes_back_animated_and_costs_its_frames(hfake, hbot, fmt, ctype):
    user = hfake.add_member(name=f"anim-{fmt}")
    data = H.animated(fmt)
    with Image.open(io.BytesIO(data)) as src:
        assert src.is_animated and src.n_frames == 3  # the test really sends an animation
    async with Watch(hbot, user) as w:
        rec = await send(hfake, user, data, f"anim.{fmt.lower()}", ctype)
        msg = await finished_result(rec, ANSWER_TIMEOUT)
        with Image.open(io.BytesIO(msg["attachments"][0]["data"])) as out:
            assert out.is_animated and out.n_frames == 3 and out.size == (64, 64)
        await w.assert_charged_once(units=2)  # 1 + 1 per 4 frames after the first


async def test_exif_rotated_jpeg_is_dreamed_upright(hfake, hbot):
    """Stored 96x64 with Orientation 6 (rotate 90 degrees clockwise): the dream is 64x96, and the
    red top-left corner of the stored image is now top-right."""
    user = hfake.add_member(name="exif")
    async with Watch(hbot, user) as w:
        rec = await send(
            hfake,
            user,
            H.exif_rotated_jpeg(96, 64, 6),
            "phone.jpg",
            "image/jpeg",
            size=128,
            strength=0.1,
        )
        msg = await finished_result(rec, ANSWER_TIMEOUT)
        im = result_image(msg).convert("RGB")
        assert im.size == (64, 96)
        r, g, b = im.getpixel((im.width - 8, 8))
        assert r > 150 and g < 110 and b < 110, (r, g, b)
        r, g, b = im.getpixel((8, 8))
        assert not (r > 150 and g < 110 and b < 110), (r, g, b)
        await w.assert_charged_once()
