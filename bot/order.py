"""An order: one request to dream, the one type carried from the trigger to the answer.

The order desk (bot/orders.py) makes it from a trigger: who asked (their roles read once), the
server's settings where they asked, what the cog chose (a `Plan`), whether the answer is hidden,
which of the request's images it is, and its price. Once its images are fetched (bot/inputs.py)
it holds them too, with the params fitted to them and the final price; the ledger, the runner
and the publisher all read this same order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.guilds import ChannelRef, GuildSettings, member_role_ids
from bot.intake import HeldImage
from bot.layout import GUIDE_NAME, SPOILER
from bot.params import frames_of, variants
from bot.replies import IMAGE_PART, VARIANT_PART
from bot.store import Source
from bot.upload_plan import Named
from dreamcore.config import EngineConfig
from dreamcore.request import DreamParams


@dataclass(frozen=True)
class ImageRef:
    url: str
    declared_size: int | None = None
    spoiler: bool = False  # a spoilered attachment: what is dreamed from it stays hidden
    link: bool = False  # a link someone pasted (fetched from public addresses), not an upload

    @classmethod
    def of(cls, attachment: Any) -> ImageRef:
        """A message's or command's attachment (SPOILER_ in its name, or Discord's flag)."""
        flags = getattr(attachment, "flags", None)
        spoiler = attachment.filename.startswith(SPOILER) or bool(getattr(flags, "spoiler", False))
        return cls(attachment.url, attachment.size, spoiler)


@dataclass(frozen=True)
class Plan:
    """What to dream, as a cog chose it. `fallback` is dreamed instead, with `fallback_note`,
    when `image` can't be fetched (e.g. an old result whose original's link expired)."""

    params: DreamParams
    image: ImageRef
    notes: tuple[str, ...] = ()
    fallback: ImageRef | None = None
    fallback_note: str = ""
    guide: ImageRef | None = None  # when params.guided
    spoiler: bool = False  # asked for as a spoiler (a server or channel may ask for it too)

    def variants(self, n: int | None) -> Plan | list[Plan]:
        """This plan, or `n` variants of it (bot/params.py: each another channel or seed),
        dreamed as one request: one reply, priced n dreams."""
        if not n or n < 2:
            return self
        return [dataclasses.replace(self, params=params) for params in variants(self.params, n)]

    @property
    def hidden(self) -> bool:
        """Asked for as a spoiler, or made from a spoilered file."""
        refs = (self.image, self.fallback, self.guide)
        return self.spoiler or any(ref is not None and ref.spoiler for ref in refs)


# What to dream once the server's settings are known: one plan, or one per image of a message
# (dreamed together, one reply). Raises DreamError to refuse (before acknowledging). It may be
# async where it must read Discord first; it then keeps within its own time budget.
Chosen = Plan | list[Plan]
Choose = Callable[[GuildSettings], Chosen | Awaitable[Chosen]]


def hides_the_answer(plans: list[Plan], guild: GuildSettings, channel: ChannelRef) -> bool:
    """The one rule for spoilers: asked for (`spoiler:`, the server, this channel), or any input
    spoilered (an upload, a result re-dreamed) makes every file of the answer a spoiler."""
    return guild.spoils(channel) or any(plan.hidden for plan in plans)


@dataclass(frozen=True)
class Requester:
    """Who asked, and where: what the ledger and the quota need to know of them."""

    user_id: int
    guild_id: int | None
    channel_id: int
    role_ids: tuple[int, ...] = ()  # read once, when the order is taken

    @classmethod
    def of(cls, user: Any, guild_id: int | None, channel: ChannelRef) -> Requester:
        return cls(user.id, guild_id, channel.id, member_role_ids(user, guild_id))


@dataclass(frozen=True)
class Pricing:
    """An order's price in dreams: the frames it makes (dreamcore/frames.py, the worker's own
    count) in units (`QuotaService.units_for`). Before its image is fetched: the least it can
    cost (as if a still were uploaded)."""

    engine: EngineConfig
    units_for: Callable[[int], int]

    def units(self, params: DreamParams, image: HeldImage | None = None) -> int:
        return self.units_for(frames_of(params, image, self.engine))


@dataclass(frozen=True)
class Order:
    """One dream of a request (a message's several images are one order each, `part` of
    `parts`, answered together). `units` is its price in dreams: until its image is fetched, the
    least it can cost; `fetched` gives the final one."""

    source: Source  # slash | context | reaction | button (the ledger's column)
    requester: Requester
    guild: GuildSettings  # the settings of the server it was asked in (the defaults in DMs)
    plan: Plan
    params: DreamParams  # what is dreamed: the plan's, fitted to its image once fetched
    units: int = 1
    spoiler: bool = False  # every file of the answer a spoiler (one rule: hides_the_answer)
    part: int = 0  # which of the request's images (0: the first, or the only one)
    parts: int = 1
    image: HeldImage | None = None  # fetched: held (against the intake's budget) until released
    guide: HeldImage | None = None  # when params.guided
    notes: tuple[str, ...] = ()  # shown under the result (e.g. "the original was gone")

    @property
    def follows(self) -> bool:
        """A later part of a request already accepted: counted once against the limits."""
        return self.part > 0

    def fetched(
        self,
        image: HeldImage,
        guide: HeldImage | None,
        params: DreamParams,
        units: int,
        notes: tuple[str, ...] = (),
    ) -> Order:
        return dataclasses.replace(
            self,
            image=image,
            guide=guide,
            params=params,
            units=units,
            notes=(*self.notes, *notes),
        )

    @property
    def extras(self) -> tuple[Named, ...]:
        """Posted beside the dream: its source, and its guide (buttons dream them again)."""
        if self.image is None:
            return ()
        source = ((self.image.source_name, self.image.source),)
        return source + (((GUIDE_NAME, self.guide.source),) if self.guide else ())

    def release(self) -> None:
        """Give the images' bytes back to the intake's budget."""
        for image in (self.image, self.guide):
            if image is not None:
                image.release()


def orders_for(
    source: Source,
    who: Requester,
    guild: GuildSettings,
    channel: ChannelRef,
    chosen: Plan | list[Plan],
    pricing: Pricing,
) -> list[Order]:
    """A request as orders: one per image (a message's several are answered together, hidden
    as one), each priced at the least it can cost until its image is fetched."""
    plans = chosen if isinstance(chosen, list) else [chosen]
    spoiler = hides_the_answer(plans, guild, channel)
    return [
        Order(
            source,
            who,
            guild,
            plan,
            plan.params,
            pricing.units(plan.params),
            spoiler,
            part=index,
            parts=len(plans),
            notes=plan.notes,
        )
        for index, plan in enumerate(plans)
    ]


def are_variants(orders: list[Order]) -> bool:
    """Several dreams of one image (`/dream variants:`), not a message's several images: they
    share its download and are answered as one gallery."""
    return len(orders) > 1 and len({order.plan.image for order in orders}) == 1


def part_noun(orders: list[Order]) -> str:
    """What a request's parts are called where they are listed: variants of one image, or a
    message's several images."""
    return VARIANT_PART if are_variants(orders) else IMAGE_PART
