"""bot.batch: several dreams answered in one reply, each part settled on its own."""

import asyncio

import discord

from bot.batch import Batch, numbered
from bot.delivery import Upload
from dreamcore.errors import DreamError


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


def upload(i: int) -> Upload:
    embed = discord.Embed(title="DeepDream").set_image(url="attachment://dream.png")
    embed.set_thumbnail(url="attachment://source.jpg")
    return Upload(f"png{i}".encode(), "dream.png", embed, None, (("source.jpg", b"jpg"),))


async def test_one_reply_with_every_dream_and_what_failed():
    answer = Answer()
    batch = Batch(answer, 3, lambda: None, interval=0.01)
    parts = [batch.part(i) for i in range(3)]
    assert parts[0].upload_limit == 3_000_000  # each dream gets its share of the limit
    await parts[1].fail("That file isn't an image.")
    first = asyncio.create_task(parts[0].deliver(upload(1)))
    await asyncio.sleep(0)
    assert not first.done() and not answer.delivered  # waits for the others
    assert await parts[2].deliver(upload(3)) == "the message"
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
    batch = Batch(answer, 2, lambda: None, interval=0.01)
    await batch.part(0).fail("too big")
    await batch.part(1).fail("not an image")
    assert answer.failed == ["Image 1: too big\nImage 2: not an image"]


async def test_a_reply_too_large_to_post_is_said_once_and_final():
    class TooLarge(Answer):
        async def deliver(self, upload):
            raise discord.HTTPException(Response(413), {"code": 40005, "message": "too large"})

    answer = TooLarge()
    batch = Batch(answer, 2, lambda: None, interval=0.01)
    results = await asyncio.gather(
        batch.part(0).deliver(upload(1)), batch.part(1).deliver(upload(2)), return_exceptions=True
    )
    # each job gets a final error (refunded, no re-encode that could not help) ...
    assert all(isinstance(r, DreamError) and "too large" in str(r) for r in results)
    # ... and the user is told, once, although the parts' own failures come too late
    assert len(answer.failed) == 1 and "too large" in answer.failed[0]
    await batch.part(0).fail("late")
    assert len(answer.failed) == 1


def test_numbered_keeps_the_spoiler_prefix():
    assert numbered("SPOILER_dream.webp", 2) == "SPOILER_dream-2.webp"
