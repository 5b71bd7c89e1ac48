"""Several dreams from one message, answered together: one status line while they run, then one
reply with every dream (each its own job, charged on its own), and what failed, if anything.

Each job talks to a `BatchPart`, which looks like any other answer to the flow: its `deliver`
returns once the combined reply is posted, so each job is charged only if that worked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import discord

from bot.delivery import Answer, Upload, is_too_large
from bot.errors import user_message
from bot.flow import TOO_LARGE, StatusLine
from bot.replies import batch_status_text
from dreamcore.errors import DreamError


@dataclass
class _Part:
    status: str = "waiting"
    upload: Upload | None = None
    failure: str | None = None
    handed_in: asyncio.Event = field(default_factory=asyncio.Event)  # its dream is done with

    @property
    def settled(self) -> bool:
        return self.upload is not None or self.failure is not None


@dataclass
class Batch:
    answer: Answer
    count: int
    view: Callable[[], discord.ui.View | None]  # under the combined reply (Delete)
    interval: float  # at most one status edit per this, for all the parts together
    parts: list[_Part] = field(init=False)
    posted: asyncio.Future[discord.Message | None] = field(init=False)

    def __post_init__(self) -> None:
        self.parts = [_Part() for _ in range(self.count)]
        self.posted = asyncio.get_running_loop().create_future()
        self.line = StatusLine(self.answer, self.interval)

    def part(self, index: int) -> BatchPart:
        return BatchPart(self, index, self.answer.upload_limit // self.count)

    async def handed_in(self, index: int) -> None:
        """Wait until part `index` has its dream (or its failure): the next may start."""
        await self.parts[index].handed_in.wait()

    def _status(self) -> None:
        self.line.show(batch_status_text([p.status for p in self.parts]))

    async def _settled(self) -> None:
        if self.posted.done() or not all(p.settled for p in self.parts):
            return
        await self.line.close()
        uploads = [(i, p.upload) for i, p in enumerate(self.parts, 1) if p.upload is not None]
        failures = [f"Image {i}: {p.failure}" for i, p in enumerate(self.parts, 1) if p.failure]
        if not uploads:
            await self.answer.fail("\n".join(failures))
            self.posted.set_result(None)
            return
        try:
            message = await self.answer.deliver(combined(uploads, failures, self.view()))
        except Exception as err:
            if isinstance(err, discord.HTTPException) and is_too_large(err):
                err = DreamError(TOO_LARGE)  # final: each part re-encoding its own can't help
            # The parts' own failures land after the reply is settled: tell the user here.
            await self.answer.fail(user_message(err))
            self.posted.set_exception(err)
            return
        except BaseException as err:
            self.posted.set_exception(err)
            raise
        self.posted.set_result(message)


class BatchPart:
    def __init__(self, batch: Batch, index: int, upload_limit: int) -> None:
        self._batch, self._index, self.upload_limit = batch, index, upload_limit

    async def status(
        self,
        text: str,
        preview: bytes | None = None,
        view: discord.ui.View | None = None,
        *,
        spoiler: bool = False,
    ) -> None:
        """Each part's first line goes into the batch's one status line (no previews)."""
        self._batch.parts[self._index].status = text.splitlines()[0]
        self._batch._status()

    async def deliver(self, upload: Upload) -> discord.Message | None:
        part = self._batch.parts[self._index]
        part.upload = upload
        part.handed_in.set()
        await self._batch._settled()
        return await asyncio.shield(self._batch.posted)

    async def fail(self, text: str) -> None:
        part = self._batch.parts[self._index]
        part.failure = text
        part.handed_in.set()
        await self._batch._settled()


def combined(
    uploads: list[tuple[int, Upload]], failures: list[str], view: discord.ui.View | None
) -> Upload:
    """One upload of several dreams: files and embeds numbered so each embed shows its own."""
    extras: list[tuple[str, bytes]] = []
    embeds: list[discord.Embed] = []
    first_name, first_data = "", b""
    for i, up in uploads:
        name = numbered(up.filename, i)
        if not first_name:
            first_name, first_data = name, up.data
        else:
            extras.append((name, up.data))
        for extra, data in up.extras:
            extras.append((numbered(extra, i), data))
        embed = up.embed.copy()
        if embed.image.url:
            embed.set_image(url=f"attachment://{name}")
        if embed.thumbnail.url:
            source = embed.thumbnail.url.removeprefix("attachment://")
            embed.set_thumbnail(url=f"attachment://{numbered(source, i)}")
        embeds.append(embed)
    if failures:
        embeds[-1].add_field(name="Not dreamed", value="\n".join(failures)[:1000], inline=False)
    return Upload(first_data, first_name, embeds[0], view, tuple(extras), embeds[1:])


def numbered(filename: str, index: int) -> str:
    """`dream.png` -> `dream-2.png` (SPOILER_ kept in front)."""
    stem, dot, ext = filename.rpartition(".")
    return f"{stem}-{index}{dot}{ext}"
