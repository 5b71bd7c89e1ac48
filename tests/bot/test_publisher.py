"""bot.publisher: several dreams answered in one reply, each part settled on its own."""

import asyncio

import discord

from bot.delivery import Upload
from bot.guilds import GuildSettings
from bot.intake import HeldImage
from bot.order import ImageRef, Order, Plan, Requester
from bot.publisher import TogetherPublisher, numbered
from bot.replies import VARIANTS_SOURCE_LEFT_OUT_NOTE
from dreamcore.errors import DreamError
from dreamcore.request import make_params
from tests.helpers import dream_result

PARAMS = make_params(model="tiny", max_side=64)
SERVER = GuildSettings(5, (), None, True, "🌀")


class Response:
    status, reason = 413, "Payload Too Large"

    def __init__(self, status: int) -> None:
        self.status = status


class Answer:
    upload_limit = 9_000_000

    def __init__(self) -> None:
        self.delivered: list[Upload] = []
        self.failed: list[str] = []
        self.statuses: list[str] = []

    async def status(self, text, preview=None, view=None, spoiler=False):
        self.statuses.append(text)

    async def deliver(self, upload):
        self.delivered.append(upload)
        return "the message"

    async def fail(self, text):
        self.failed.append(text)


def publisher(answer, parts: int) -> TogetherPublisher:
    return TogetherPublisher(answer, 42, parts, buttons=lambda *a, **k: None, interval=0.01)


def order(part: int, parts: int) -> Order:
    """Part `part` of a request, its image fetched (its source: `source.jpg`)."""
    plan = Plan(PARAMS, ImageRef("https://cdn/in.png"))
    image = HeldImage(b"png", b"jpg")
    who = Requester(42, 5, 100)
    return Order("slash", who, SERVER, plan, PARAMS, part=part, parts=parts, image=image)


async def publish(publisher, part: int, parts: int):
    """Part `part`'s dream (`dream.png`) handed to `publisher`: the message it was posted in."""
    result = dream_result(image=f"png{part + 1}".encode())
    return await publisher.publish(order(part, parts), f"job{part}", result, 0.0)


async def test_one_reply_with_every_dream_and_what_failed():
    answer = Answer()
    together = publisher(answer, 3)
    assert together.upload_limit == 3_000_000  # each dream gets its share of the limit
    await together.fail(order(1, 3), "That file isn't an image.")
    first = asyncio.create_task(publish(together, 0, 3))
    await asyncio.sleep(0)
    assert not first.done() and not answer.delivered  # waits for the others
    assert await publish(together, 2, 3) == "the message"
    assert await first == "the message"  # both charged only once the reply is posted
    [combined] = answer.delivered
    names = [f.filename for f in combined.files()]
    assert names == ["dream-1.png", "source-1.jpg", "dream-3.png", "source-3.jpg"]
    assert [e.image.url for e in combined.embeds] == [
        "attachment://dream-1.png",
        "attachment://dream-3.png",
    ]
    assert combined.embeds[1].thumbnail.url == "attachment://source-3.jpg"
    assert "Image 2: That file isn't an image." in str(combined.embeds[-1].fields)


async def test_when_every_part_fails_the_reply_says_why():
    answer = Answer()
    together = publisher(answer, 2)
    await together.fail(order(0, 2), "too big")
    await together.fail(order(1, 2), "not an image")
    assert answer.failed == ["Image 1: too big\nImage 2: not an image"]


async def test_a_reply_too_large_to_post_is_said_once_and_final():
    class TooLarge(Answer):
        async def deliver(self, upload):
            raise discord.HTTPException(Response(413), {"code": 40005, "message": "too large"})

    answer = TooLarge()
    together = publisher(answer, 2)
    results = await asyncio.gather(
        publish(together, 0, 2), publish(together, 1, 2), return_exceptions=True
    )
    # each job gets a final error (refunded, no re-encode that could not help) ...
    assert all(isinstance(r, DreamError) and "too large" in str(r) for r in results)
    # ... and the user is told, once, although the parts' own failures come too late
    assert len(answer.failed) == 1 and "too large" in answer.failed[0]
    await together.fail(order(0, 2), "late")
    assert len(answer.failed) == 1


def test_numbered_keeps_the_spoiler_prefix():
    assert numbered("SPOILER_dream.webp", 2) == "SPOILER_dream-2.webp"


# --- variants: one Components V2 gallery -------------------------------------------------------


def _noise(side: int, fmt: str, seed: int = 0) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.effect_noise((side, side), 60 + seed).convert("RGB").save(buf, fmt)
    return buf.getvalue()


class LimitedAnswer(Answer):
    """Refuses (413) a reply whose files together pass `real_limit`, as Discord does."""

    def __init__(self, real_limit: int) -> None:
        super().__init__()
        self.real_limit, self.refused = real_limit, 0

    async def deliver(self, upload):
        if sum(len(f.fp.getvalue()) for f in upload.files()) > self.real_limit:
            self.refused += 1
            raise discord.HTTPException(Response(413), {"code": 40005, "message": "too large"})
        return await super().deliver(upload)


def variant(part: int, parts: int, source: bytes) -> Order:
    """Variant `part` of `parts`: one image (its source shared), another layer each."""
    params = make_params(model="tiny", layer=f"relu2:{part}", max_side=64)
    plan = Plan(params, ImageRef("https://cdn/in.png"))
    image = HeldImage(b"png", source)
    who = Requester(42, 5, 100)
    return Order("slash", who, SERVER, plan, params, part=part, parts=parts, image=image)


def _media_urls(view) -> list[str]:
    import re

    return re.findall(r"attachment://[^'\"]+", str(view.to_components()))


async def _variants_reply(answer, parts: int, dream: bytes, source: bytes):
    from bot.buttons import gallery_view

    together = TogetherPublisher(
        answer, 42, parts, buttons=lambda *a, **k: None, interval=0.01, gallery=gallery_view
    )
    results = [dream_result(image=dream, seed=10 + i) for i in range(parts)]
    await asyncio.gather(
        *(
            together.publish(variant(i, parts, source), f"{i:012x}", results[i], 0.0)
            for i in range(parts)
        )
    )
    [reply] = answer.delivered
    return reply


async def test_variants_are_one_gallery_with_their_one_source():
    reply = await _variants_reply(Answer(), 3, _noise(64, "PNG"), _noise(64, "JPEG"))
    names = [f.filename for f in reply.files()]
    assert names == ["dream-1.png", "dream-2.png", "dream-3.png", "source.jpg"]
    assert reply.embeds == [] and reply.is_layout  # no embeds: everything is components
    assert sorted(set(_media_urls(reply.view))) == sorted(f"attachment://{n}" for n in names)


async def test_a_413_plans_the_gallery_again_and_it_names_only_the_files_attached():
    dream, source = _noise(256, "PNG"), _noise(256, "JPEG", seed=3)
    real_limit = 2 * len(dream) // 3  # the bot was told 9 MB; Discord takes much less
    answer = LimitedAnswer(real_limit)
    reply = await _variants_reply(answer, 2, dream, source)
    assert answer.refused >= 1  # refused, then planned again for less (re-encoded)
    files = {f.filename: len(f.fp.getvalue()) for f in reply.files()}
    assert sum(files.values()) <= real_limit
    assert sorted(n.rpartition(".")[0] for n in files) == ["dream-1", "dream-2", "source"]
    assert set(_media_urls(reply.view)) == {f"attachment://{n}" for n in files}  # renamed too


def test_a_source_left_out_of_the_gallery_is_said_and_never_named():
    from bot.buttons import gallery_view
    from bot.publisher import _Made, gallery_upload
    from bot.upload_plan import UploadPlan

    made = [
        (k, _Made(variant(k - 1, 2, b"jpg"), f"{k:012x}", dream_result(), 0.0, plan))
        for k, plan in (
            (1, UploadPlan(("dream.png", b"one"), (), ("source.jpg",))),
            (2, UploadPlan(("dream.webp", b"two"), (), ("source.jpg",))),
        )
    ]
    reply = gallery_upload(42, made, [], gallery_view)
    assert [f.filename for f in reply.files()] == ["dream-1.png", "dream-2.webp"]
    assert _media_urls(reply.view) == ["attachment://dream-1.png", "attachment://dream-2.webp"]
    header = reply.view.to_components()[0]["components"][0]
    assert header["type"] == 10  # no thumbnail: its source is not attached ...
    assert VARIANTS_SOURCE_LEFT_OUT_NOTE in header["content"]  # ... and the reply says so
