"""The answer to one request, as a whole: its status line, its files, embeds and view, and the
upload limit they share.

A publisher owns the answer (bot/delivery.py) for every order of a request. It gives each job its
budget (the bytes its dream may take: the limit less a bounded room for the files beside it) and
its progress sink (bot/progress.py), and plans what is posted against the limit as a whole
(bot/upload_plan.py): the dream, then its source and guide in what is left. Spoilers hide every
file, the preview under the progress bar included.

One result (`OnePublisher`) is posted as soon as it is made; a 413 despite the plan (the real limit
is lower than the bot was told) plans it again for less, a few times. Several (`TogetherPublisher`:
a message's images, or variants) are posted as one reply once every part is made or failed, each
planned against its share of the limit, and after a 413 planned again, every part for less
(stills only: an animation was fitted by its worker). Variants are one Components V2 gallery
(bot/gallery.py) with their one source; a message's images an embed each with its own source.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import discord

from bot.delivery import Answer, Upload, is_too_large, spoiler_name
from bot.errors import user_message
from bot.gallery import Gallery, Shown
from bot.layout import (
    SOURCE_PREFIX,
    SPOILER,
    left_out_notes,
    result_embed,
    result_filename,
)
from bot.order import Order
from bot.progress import LineProgress, Progress, SharedLine, StatusLine
from bot.replies import IMAGE_PART, TOO_LARGE, part_text
from bot.upload_plan import MIN_DREAM_BYTES as MIN_SHARE_BYTES
from bot.upload_plan import UploadPlan, dream_budget, limit_after_refusal, plan_upload
from dreamcore.errors import DreamError
from dreamcore.request import DreamResult

log = logging.getLogger(__name__)
DELIVERY_TRIES = 6  # plans of the answer tried: each after a 413 for half the last (1/32)
MIN_DREAM_BYTES = 1024

Buttons = Callable[..., discord.ui.View | None]  # under a result: (requester, still=, batch=)
Controls = Callable[[int, str], discord.ui.View]  # under a waiting job: (requester, job id)
GalleryView = Callable[[Gallery], discord.ui.LayoutView]  # the reply to variants, its buttons


class Publisher(Protocol):
    """The answer to a request as a whole; each of its orders' jobs asks it for these."""

    def budget(self, order: Order) -> int:
        """The bytes `order`'s dream may take."""
        ...

    def progress(self, order: Order, job_id: str) -> Progress: ...

    async def publish(
        self, order: Order, job_id: str, result: DreamResult, queue_s: float
    ) -> discord.Message | None:
        """Post `order`'s dream; the message it is in. Raises when it can't be posted (a dream
        that reached Discord counts as posted: bot/delivery.py)."""
        ...

    async def fail(self, order: Order, text: str) -> None: ...

    async def handed_in(self, part: int) -> None:
        """Wait until part `part` is made or failed: the next may start."""
        ...


class OnePublisher:
    """The answer to a request of one order: its own status line (previews, Cancel), then the
    dream, planned again for less after a 413."""

    def __init__(
        self,
        answer: Answer,
        *,
        buttons: Buttons,
        controls: Controls | None = None,
        interval: float,
        clock=time.monotonic,
    ) -> None:
        self.answer = answer
        self.buttons, self.controls = buttons, controls
        self.interval, self.clock = interval, clock

    def budget(self, order: Order) -> int:
        return dream_bytes(self.answer.upload_limit, order)

    def progress(self, order: Order, job_id: str) -> Progress:
        who = order.requester.user_id
        view = self.controls(who, job_id) if self.controls else None
        line = StatusLine(self.answer, self.interval, self.clock, view, spoiler=order.spoiler)
        return LineProgress(line)

    async def publish(
        self, order: Order, job_id: str, result: DreamResult, queue_s: float
    ) -> discord.Message | None:
        still = result.frames == 1
        view = self.buttons(order.requester.user_id, still=still)
        limit = self.answer.upload_limit
        for _ in range(DELIVERY_TRIES):
            plan = await planned(order, result, limit)
            if plan is None:
                break
            try:
                return await self.answer.deliver(
                    composed(order, job_id, result, queue_s, plan, view)
                )
            except discord.HTTPException as err:
                if not is_too_large(err):
                    raise
                next_limit = limit_after_refusal(plan, reencodable=still)
                log.info("answer of %d bytes refused (413); planning for %s", plan.size, next_limit)
                if next_limit is None:
                    break
                limit = next_limit
        raise DreamError(TOO_LARGE)

    async def fail(self, order: Order, text: str) -> None:
        await self.answer.fail(text)

    async def handed_in(self, part: int) -> None:
        return None  # one order: nothing waits for it


@dataclass(frozen=True)
class _Made:
    """A part's dream, kept until the reply is posted (a 413 plans it again for less)."""

    order: Order
    job_id: str
    result: DreamResult
    queue_s: float
    plan: UploadPlan

    @property
    def still(self) -> bool:
        return self.result.frames == 1


@dataclass
class _Part:
    made: _Made | None = None
    failure: str | None = None
    handed_in: asyncio.Event = field(default_factory=asyncio.Event)  # made, or failed

    @property
    def settled(self) -> bool:
        return self.made is not None or self.failure is not None


class TogetherPublisher:
    """The answer to a request of several orders (a message's images, or variants of one): one
    status line while they run, then one reply with every dream and what failed. Each part's
    `publish` returns once that reply is posted, so each job is charged only if it was.

    The reply plans each dream against its share of the limit; a 413 despite that plans every
    part again for half of what was refused (stills re-encode; with an animation among them it
    is final). Variants, given a `gallery`, are answered as one Components V2 gallery sharing
    one source; else each dream has its embed and its own source beside it."""

    def __init__(
        self,
        answer: Answer,
        requester_id: int,
        parts: int,
        *,
        buttons: Buttons,
        interval: float,
        view: discord.ui.View | None = None,
        noun: str = IMAGE_PART,
        gallery: GalleryView | None = None,
        clock=time.monotonic,
    ) -> None:
        self.answer = answer
        self.requester_id = requester_id
        self.buttons = buttons
        self.gallery = gallery
        self.parts = [_Part() for _ in range(parts)]
        self.noun = noun
        line = StatusLine(answer, interval, clock, view)  # view: one Cancel for every part
        self.line = SharedLine(line, parts, noun)
        self.posted: asyncio.Future[discord.Message | None]
        self.posted = asyncio.get_running_loop().create_future()

    @property
    def upload_limit(self) -> int:
        return self.answer.upload_limit // len(self.parts)  # each dream gets its share

    def budget(self, order: Order) -> int:
        return dream_bytes(self.upload_limit, order)

    def progress(self, order: Order, job_id: str) -> Progress:
        return self.line.part(order.part)

    async def publish(
        self, order: Order, job_id: str, result: DreamResult, queue_s: float
    ) -> discord.Message | None:
        plan = await planned(order, result, self.upload_limit)
        if plan is None:
            raise DreamError(TOO_LARGE)
        part = self.parts[order.part]
        part.made = _Made(order, job_id, result, queue_s, plan)
        await self._hand_in(part)
        return await asyncio.shield(self.posted)

    async def fail(self, order: Order, text: str) -> None:
        part = self.parts[order.part]
        part.failure = text
        await self._hand_in(part)

    async def handed_in(self, part: int) -> None:
        await self.parts[part].handed_in.wait()

    async def _hand_in(self, part: _Part) -> None:
        part.handed_in.set()
        if self.posted.done() or not all(p.settled for p in self.parts):
            return
        await self.line.close()
        made = [(i, p.made) for i, p in enumerate(self.parts, 1) if p.made is not None]
        failures = [
            part_text(i, p.failure, self.noun) for i, p in enumerate(self.parts, 1) if p.failure
        ]
        if not made:
            await self.answer.fail("\n".join(failures))
            self.posted.set_result(None)
            return
        try:
            message = await self._deliver(made, failures)
        except Exception as err:  # noqa: BLE001 - told to the user and to the parts
            # The parts' own failures land after the reply is settled: tell the user here.
            await self.answer.fail(user_message(err))
            self.posted.set_exception(err)
            return
        except BaseException as err:
            self.posted.set_exception(err)
            raise
        self.posted.set_result(message)

    async def _deliver(
        self, made: list[tuple[int, _Made]], failures: list[str]
    ) -> discord.Message | None:
        """The reply, planned again for less after a 413 while its dreams can shrink: each
        part for its share of half what was refused."""
        for _ in range(DELIVERY_TRIES):
            upload = self._compose(made, failures)
            try:
                return await self.answer.deliver(upload)
            except discord.HTTPException as err:
                if not is_too_large(err):
                    raise
                log.info("reply of %d bytes refused (413); planning it again", upload.size)
                if not all(m.still for _, m in made):  # an animation is fitted by its worker
                    break
                share = upload.size // 2 // len(self.parts)
                if share < MIN_SHARE_BYTES:
                    break
                replanned = [(i, await self._replanned(m, share)) for i, m in made]
                made = [(i, m) for i, m in replanned if m is not None]
                if len(made) < len(replanned):
                    break
        raise DreamError(TOO_LARGE)  # final: every part's job is refunded

    @staticmethod
    async def _replanned(made: _Made, share: int) -> _Made | None:
        plan = await planned(made.order, made.result, share)
        return None if plan is None else dataclasses.replace(made, plan=plan)

    def _compose(self, made: list[tuple[int, _Made]], failures: list[str]) -> Upload:
        if self.gallery is not None:
            return gallery_upload(self.requester_id, made, failures, self.gallery)
        uploads = [
            (i, composed(m.order, m.job_id, m.result, m.queue_s, m.plan, view=None))
            for i, m in made
        ]
        view = self.buttons(self.requester_id, batch=True)  # Delete only: which would Deeper dream?
        return combined(uploads, failures, view)


def dream_bytes(limit: int, order: Order) -> int:
    """The bytes a dream may take of `limit`: the dream first; its source and guide keep some
    room beside it."""
    return max(MIN_DREAM_BYTES, dream_budget(limit, order.extras))


async def planned(order: Order, result: DreamResult, limit: int) -> UploadPlan | None:
    """The dream and its files planned against `limit` (Pillow: in a thread)."""
    dream = (result_filename(result), result.image)
    still = result.frames == 1
    return await asyncio.to_thread(plan_upload, dream, order.extras, limit, reencodable=still)


def composed(
    order: Order,
    job_id: str,
    result: DreamResult,
    queue_s: float,
    plan: UploadPlan,
    view: discord.ui.View | None,
) -> Upload:
    """The planned answer as an upload: the dream, its files, its embed, hidden if asked."""
    embed = result_embed(
        result,
        order.params,
        requester_id=order.requester.user_id,
        job_id=job_id,
        queue_s=queue_s,
        with_source=plan.extra_named(SOURCE_PREFIX),
        notes=(*order.notes, *left_out_notes(plan.left_out)),
        units=order.units,
    )
    embed.set_image(url=f"attachment://{plan.dream[0]}")  # re-encoded: renamed
    upload = Upload(plan.dream[1], plan.dream[0], embed, view, plan.extras)
    return upload.as_spoiler() if order.spoiler else upload


def publisher_for(
    answer: Answer,
    requester_id: int,
    parts: int,
    *,
    buttons: Buttons,
    controls: Controls | None,
    interval: float,
    cancel_id: str = "",
    noun: str = IMAGE_PART,
    gallery: GalleryView | None = None,
) -> Publisher:
    """The publisher of a request of `parts` orders; several share one Cancel, which names
    their first job (`cancel_id`: the flow cancels them all by it). `gallery`: variants, and
    how their reply is laid out."""
    if parts > 1:
        view = controls(requester_id, cancel_id) if controls and cancel_id else None
        return TogetherPublisher(
            answer,
            requester_id,
            parts,
            buttons=buttons,
            interval=interval,
            view=view,
            noun=noun,
            gallery=gallery,
        )
    return OnePublisher(answer, buttons=buttons, controls=controls, interval=interval)


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
        assert up.embed is not None, "a dream composed for the embeds' layout"
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


def gallery_upload(
    requester_id: int,
    made: list[tuple[int, _Made]],
    failures: list[str],
    view_of: GalleryView,
) -> Upload:
    """Variants as one Components V2 reply: `dream-1.png` ... (numbered as they were asked
    for), and their one source and guide (the same input: attached once)."""
    spoiler = made[0][1].order.spoiler

    def named(name: str) -> str:
        return spoiler_name(name) if spoiler else name

    files: list[tuple[str, bytes]] = []
    shown: list[Shown] = []
    for i, m in made:
        name = named(numbered(m.plan.dream[0], i))
        files.append((name, m.plan.dream[1]))
        units = m.order.units
        shown.append(Shown(i, m.job_id, name, m.order.params, m.result, m.queue_s, units))
    beside = max((m for _, m in made), key=lambda m: len(m.plan.extras))  # all alike, or one
    extras = [(named(name), data) for name, data in beside.plan.extras]
    reply = Gallery(
        requester_id,
        tuple(shown),
        tuple(failures),
        notes=(*beside.order.notes, *left_out_notes(beside.plan.left_out, variants=True)),
        source=next((name for name, _ in extras if _unspoiled(name, SOURCE_PREFIX)), None),
        spoiler=spoiler,
    )
    (first_name, first_data), *rest = files
    return Upload(first_data, first_name, None, view_of(reply), (*rest, *extras))


def _unspoiled(name: str, prefix: str) -> bool:
    return name.removeprefix(SPOILER).startswith(prefix)


def numbered(filename: str, index: int) -> str:
    """`dream.png` -> `dream-2.png` (SPOILER_ kept in front)."""
    stem, dot, ext = filename.rpartition(".")
    return f"{stem}-{index}{dot}{ext}"
