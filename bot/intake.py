"""Getting an image safely: pick the attachment (or take the link), download it with hard caps,
and check that it decodes at the size it will be dreamed at, before it costs any quota.

`Intake` owns the HTTP sessions and three bounds: downloads at once per user, decodes at once
(a large image needs hundreds of MB to decode), and the bytes that accepted orders hold while
they wait for a worker. Downloading itself (cap, timeout, redirects, sniffing, and which
addresses a link may reach) is `dreamcore.links`; decoding (bombs, junk, sizes)
`dreamcore.imaging`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import aiohttp

from bot import replies
from bot.errors import Busy, NoImageFound
from bot.layout import SOURCE_NAME, SOURCE_PREFIX
from bot.settings import IntakeConfig
from dreamcore.config import EngineConfig
from dreamcore.errors import LinkRefused
from dreamcore.imaging import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    decode_for_dream,
    decode_guide,
    encode_jpeg,
    file_extension,
)
from dreamcore.links import Destinations, Network, checked_url, fetch, open_session

DECODES_AT_ONCE = 2
SOURCE_QUALITY = 90
SOURCE_ANIMATION_BYTES = 2 * 1024 * 1024  # an animated upload up to this travels whole
NOT_RASTER = frozenset({"image/svg+xml"})  # image/* that Pillow can't dream
VIDEO_TYPES = frozenset({"video/mp4", "video/webm", "video/quicktime", "video/x-m4v"})


def pick_image_attachments(
    attachments: Sequence[Any], limit: int = 1, what: str = "That file"
) -> list[Any]:
    """The attachments that look like images or videos (by their declared type or extension;
    what they really are is read from their bytes when they are decoded), the first `limit` of
    them; NoImageFound when there is none."""
    images = [att for att in attachments if _looks_like_an_image(att)][:limit]
    if images:
        return images
    if len(attachments) == 1:
        raise NoImageFound(replies.not_an_image_text(what))
    if attachments:
        raise NoImageFound(replies.NONE_ARE_IMAGES)
    raise NoImageFound(replies.NO_IMAGE_FOUND)


def pick_image_attachment(attachments: Sequence[Any], what: str = "That file") -> Any:
    """The first attachment that looks like an image."""
    return pick_image_attachments(attachments, 1, what)[0]


def _looks_like_an_image(att: Any) -> bool:
    content_type = (getattr(att, "content_type", None) or "").split(";")[0].strip().lower()
    if content_type in NOT_RASTER:
        return False
    suffix = PurePosixPath(getattr(att, "filename", "") or "").suffix.lower()
    return (
        content_type.startswith("image/")
        or content_type in VIDEO_TYPES
        or suffix in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
    )


class HeldImage:
    """An image an order holds until its job ends; its bytes count against the bot's budget.

    `data` is what was uploaded; `source` what is posted beside the dream (the "before", and
    what Re-roll dreams again): the picture as a JPEG at the size it will be dreamed at, or an
    animation as uploaded when it is small enough to travel."""

    def __init__(
        self,
        data: bytes,
        source: bytes,
        *,
        size: tuple[int, int] = (0, 0),
        frames: int = 1,
        source_name: str = SOURCE_NAME,
    ) -> None:
        self.source_name = source_name
        self.data = data
        self.source = source
        self.size = size  # (w, h) at the size it will be dreamed
        self.frames = frames  # > 1: an animated upload
        self._budget: ByteBudget | None = None
        self._holders = 1  # orders that hold it (variants of one image share it)

    @property
    def nbytes(self) -> int:
        return len(self.data) + len(self.source)

    def count_against(self, budget: ByteBudget) -> None:
        """Hold this image's bytes in `budget` (Busy if it is full) until `release`."""
        budget.take(self.nbytes)
        self._budget = budget

    def shared_by(self, holders: int) -> HeldImage:
        """Held by `holders` orders at once (variants of one image): its bytes go back when
        the last of them releases it."""
        self._holders = max(1, holders)
        return self

    def release(self) -> None:
        self._holders -= 1
        if self._holders > 0:
            return
        if self._budget is not None:
            self._budget.give_back(self.nbytes)
            self._budget = None


class ByteBudget:
    def __init__(self, limit: int) -> None:
        self.limit, self.held = limit, 0

    def take(self, n: int) -> None:
        if self.held + n > self.limit:
            raise Busy(replies.bot_busy_text())
        self.held += n

    def give_back(self, n: int) -> None:
        self.held = max(0, self.held - n)


class Intake:
    def __init__(
        self, config: IntakeConfig, engine: EngineConfig, network: Network | None = None
    ) -> None:
        self.config = config
        self.engine = engine
        self.network = network  # None: the machine's DNS and TCP (tests: loopback only)
        self.budget = ByteBudget(config.max_held_bytes)
        self.attachments = attachment_destinations(config)
        self.links = link_destinations(config)
        self._sessions: dict[Destinations, aiohttp.ClientSession] = {}
        self._decodes = asyncio.Semaphore(DECODES_AT_ONCE)
        self._downloading: Counter[int] = Counter()  # user id -> downloads in progress

    async def open(self) -> None:
        # one session per kind of input: each connector vets addresses for its destinations
        for where in (self.attachments, self.links):
            self._sessions[where] = open_session(where, self.network)

    async def close(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            await session.close()

    def check_link(self, url: str) -> str:
        """A pasted link as it will be fetched, or refused now when its look alone says so (links
        turned off, not http(s), credentials, a private address): before anything is said."""
        if not self.config.url_fetch:
            raise LinkRefused(replies.LINKS_OFF)
        link = url.strip().removeprefix("<").removesuffix(">")  # <link>: Discord's no-embed form
        checked_url(link, self.links)
        return link

    async def fetch(
        self,
        url: str,
        *,
        user_id: int,
        max_side: int,
        declared_size: int | None = None,
        guide: bool = False,
        link: bool = False,
    ) -> HeldImage:
        """Download an attachment (or a pasted `link`) and check it decodes at `max_side` (a
        `guide`: as the worker takes a guide's features); raises a DreamError."""
        where = self.links if link else self.attachments
        if link:
            url = self.check_link(url)
        if self._downloading[user_id] >= self.config.downloads_per_user:
            raise Busy(replies.downloads_busy_text())
        assert self._sessions, "Intake.open() first"
        self._downloading[user_id] += 1
        try:
            data = await fetch(
                self._sessions[where],
                url,
                destinations=where,
                limits=self.config.limits(),
                declared_size=declared_size,
            )
            async with self._decodes:
                held = await asyncio.to_thread(_checked, data, self.engine, max_side, guide)
        finally:
            self._downloading[user_id] -= 1
            if not self._downloading[user_id]:
                del self._downloading[user_id]
        held.count_against(self.budget)
        return held


def _checked(data: bytes, engine: EngineConfig, max_side: int, guide: bool) -> HeldImage:
    """Decode exactly as the worker will (refusing what it would refuse): the image with its
    source JPEG, its size and, for an animation, its frame count. A guide is taken at the
    size the worker takes its features at, whatever the dream's size."""
    decoded = decode_guide(data, engine) if guide else decode_for_dream(data, engine, max_side)
    frames, size = decoded.frames, decoded.rgb.size
    if frames > 1 and len(data) <= SOURCE_ANIMATION_BYTES:
        name = f"{SOURCE_PREFIX}{file_extension(decoded.format)}"
        return HeldImage(data, data, size=size, frames=frames, source_name=name)
    source = encode_jpeg(decoded.rgb, quality=SOURCE_QUALITY)
    return HeldImage(data, source, size=size, frames=frames)


def attachment_destinations(config: IntakeConfig) -> Destinations:
    """Where attachments come from: Discord's CDN (`intake.allowed_hosts`), nowhere else."""
    return Destinations.only(config.allowed_hosts, replies.ONLY_DISCORD_IMAGES)


def link_destinations(config: IntakeConfig) -> Destinations:
    """Where pasted links may go: public addresses, and `intake.url_allowed_hosts`."""
    return Destinations.links(config.url_allowed_hosts)


async def download_attachment(
    session: aiohttp.ClientSession,
    url: str,
    *,
    config: IntakeConfig,
    declared_size: int | None = None,
) -> bytes:
    """Fetch an attachment from an allowed host, never reading more than `max_download_bytes`."""
    return await fetch(
        session,
        url,
        destinations=attachment_destinations(config),
        limits=config.limits(),
        declared_size=declared_size,
    )
