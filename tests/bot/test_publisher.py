"""bot.publisher: several dreams answered in one reply, each part settled on its own."""

import asyncio

import discord

from bot.delivery import Upload
from bot.guilds import GuildSettings
from bot.intake import HeldImage
from bot.order import ImageRef, Order, Plan, Requester
from bot.publisher import TogetherPublisher, numbered
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
