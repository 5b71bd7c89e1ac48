"""From any trigger to a running dream: the one pipeline every way of asking goes through.

A trigger (slash command, context menu, reaction, button) says who asked and where, and how to
choose the dream (params and image) once the server's settings are known. The desk then does,
in this order:

  server settings (memory) → channel check → choose → spoiler? → quota peek → acknowledge →
  answer → download and check the image → start the job

Everything before the acknowledgement is memory-only except the quota peek, which reads the
database on its own reader (never blocked by a writer) within a time budget, so the 3-second
acknowledgement holds. A refusal up to there is ephemeral for an interaction (no public noise,
nothing downloaded); a reaction gets a short-lived line at most once per message and user.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import discord

from bot.batch import Batch
from bot.delivery import Answer, ChannelAnswer, InteractionAnswer
from bot.errors import Busy, DownloadFailed, QuotaExceeded, user_message
from bot.flow import DreamFlow, DreamOrder, Requester
from bot.guilds import ChannelRef, GuildDirectory, GuildSettings, member_role_ids
from bot.intake import HeldImage, Intake
from bot.metrics import BotMetrics
from bot.params import animated, frames_of
from bot.quota import QuotaService
from bot.replies import SPOILER
from bot.settings import Settings
from bot.store import Source
from dreamcore.errors import DreamError
from dreamcore.frames import frames_made
from dreamcore.request import DreamParams

log = logging.getLogger(__name__)
PEEK_BUDGET_S = 1.5  # of the 3 s Discord gives to acknowledge
REFUSAL_LINE_S = 20.0  # a refusal answered to a reaction deletes itself after this
REFUSAL_MEMORY_S = 600.0  # ... and is said once per message and user in this time
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024


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
    """What to dream. `fallback` is dreamed instead, with `fallback_note`, when `image` can't be
    fetched (e.g. an old result whose original's link expired)."""

    params: DreamParams
    image: ImageRef
    notes: tuple[str, ...] = ()
    fallback: ImageRef | None = None
    fallback_note: str = ""
    guide: ImageRef | None = None  # when params.guided
    spoiler: bool = False  # asked for as a spoiler (a server or channel may ask for it too)

    @property
    def hidden(self) -> bool:
        """Asked for as a spoiler, or made from a spoilered file."""
        refs = (self.image, self.fallback, self.guide)
        return self.spoiler or any(ref is not None and ref.spoiler for ref in refs)


def hides_the_answer(plans: list[Plan], guild: GuildSettings, channel: ChannelRef) -> bool:
    """The one rule for spoilers: asked for (`spoiler:`, the server, this channel), or any input
    spoilered (an upload, a result re-dreamed) makes every file of the answer a spoiler."""
    return guild.spoils(channel) or any(plan.hidden for plan in plans)


# What to dream once the server's settings are known: one plan, or one per image of a message
# (dreamed together, one reply). Raises DreamError to refuse (before acknowledging).
Choose = Callable[[GuildSettings], Plan | list[Plan]]


@dataclass(frozen=True)
class Trigger:
    source: Source
    user: discord.abc.User
    guild_id: int | None
    channel: ChannelRef
    interaction: discord.Interaction | None = None  # None: a reaction, answered in the channel
    message: discord.Message | None = None  # the message dreamed from: answers reply to it

    @classmethod
    def of_interaction(
        cls,
        source: Source,
        interaction: discord.Interaction,
        message: discord.Message | None = None,
    ) -> Trigger:
        """Server settings and rules apply where the bot is installed to the server; a
        user-installed command elsewhere (DMs, group DMs, other servers) is the user's own."""
        channel = ChannelRef.of(interaction.channel, interaction.channel_id or 0)
        guild_id = interaction.guild_id if interaction.is_guild_integration() else None
        return cls(source, interaction.user, guild_id, channel, interaction, message)

    @property
    def can_post_in_channel(self) -> bool:
        """Can the bot post in the channel on its own (not only through the interaction)?"""
        if self.interaction is None:
            return True  # a reaction: the bot saw the message, it is there
        if self.guild_id is not None:
            return True
        return self.interaction.context.dm_channel is True  # its own DM with the user


class OrderDesk:
    def __init__(
        self,
        *,
        settings: Settings,
        client: discord.Client,
        guilds: GuildDirectory,
        quota: QuotaService,
        intake: Intake,
        flow: DreamFlow,
        metrics: BotMetrics,
        clock=time.monotonic,
    ) -> None:
        self.metrics = metrics
        self.settings = settings
        self.client = client
        self.guilds = guilds
        self.quota = quota
        self.intake = intake
        self.flow = flow
        self._clock = clock
        self._told: dict[tuple[int, int], float] = {}  # (message, user) -> when refused

    async def take(self, trigger: Trigger, choose: Choose) -> asyncio.Task | None:
        """Refuse, or acknowledge and start the dream; never raises for a user's mistake."""
        guild = self.guilds.get(trigger.guild_id)
        try:
            guild.check_channel(trigger.channel)
            chosen = choose(guild)
            plans = chosen if isinstance(chosen, list) else [chosen]
            spoiler = hides_the_answer(plans, guild, trigger.channel)
            # the price is known once the image is (below); before, a motion's is close
            engine = self.settings.engine
            frames = [
                frames_made(p.params, upload_frames=1, pixels=0, engine=engine) for p in plans
            ]
            estimate = sum(self.quota.units_for(n) for n in frames)
            await self._peek_quota(trigger, estimate)
        except DreamError as err:
            await self._refuse(trigger, err)
            return None
        answer = await self._acknowledge(trigger)
        if answer is None:
            return None
        if len(plans) == 1:
            return await self._start(trigger, guild, plans[0], answer, spoiler)
        batch = Batch(answer, len(plans), lambda: self.flow.buttons(trigger.user.id, batch=True),
                      self.settings.discord.progress_interval_s)  # fmt: skip
        one_by_one = self._one_by_one(trigger, guild, plans, batch, spoiler)
        return self.flow.track(one_by_one, "dream-batch")

    async def _one_by_one(
        self, trigger: Trigger, guild: GuildSettings, plans: list[Plan], batch: Batch, spoiler: bool
    ) -> None:
        """A message's images dreamed one after the other: each is its own job (charged on its
        own), and together they count once against the user's dreams-at-once limit."""
        for index, plan in enumerate(plans):
            part = batch.part(index)
            await self._start(trigger, guild, plan, part, spoiler, follows=index > 0)
            await batch.handed_in(index)  # its dream is made (or failed): the next one may go

    async def _start(
        self,
        trigger: Trigger,
        guild: GuildSettings,
        plan: Plan,
        answer: Answer,
        spoiler: bool,
        follows: bool = False,
    ) -> asyncio.Task | None:
        """Fetch the image (and guide) and start the job; a failure is said through `answer`."""
        try:
            image, notes = await self._fetch(trigger, plan)
        except Exception as err:  # noqa: BLE001 - DreamErrors are user text; others get logged
            return await self._fetch_failed(answer, err)
        guide = None
        if plan.guide is not None:
            try:
                guide = await self._download(trigger, plan.guide, plan.params.max_side, guide=True)
            except Exception as err:  # noqa: BLE001
                image.release()
                return await self._fetch_failed(answer, err, what="The guide image: ")
        requester = Requester(
            trigger.user.id,
            trigger.guild_id,
            trigger.channel.id,
            member_role_ids(trigger.user, trigger.guild_id),
        )
        engine = self.settings.engine
        params = animated(plan.params, image, engine, guild)
        units = self.quota.units_for(frames_of(params, image, engine))
        notes = (*plan.notes, *notes)
        order = DreamOrder(
            requester, image, params, trigger.source, notes, guide, units, spoiler, follows
        )
        return self.flow.start(order, answer)

    async def _fetch_failed(self, answer: Answer, err: BaseException, what: str = "") -> None:
        if not isinstance(err, DreamError):
            log.error("fetching an image failed", exc_info=err)
        await answer.fail(what + user_message(err))

    # --- steps -------------------------------------------------------------------------------

    async def _peek_quota(self, trigger: Trigger, units: int) -> None:
        roles = member_role_ids(trigger.user, trigger.guild_id)
        peek = self.quota.peek(
            user_id=trigger.user.id, guild_id=trigger.guild_id, role_ids=roles, units=units
        )
        try:
            refusal = await asyncio.wait_for(peek, PEEK_BUDGET_S)
        except TimeoutError:
            log.warning("quota peek took over %.1f s; the reservation will decide", PEEK_BUDGET_S)
            return
        if refusal is not None:
            raise refusal

    async def _acknowledge(self, trigger: Trigger) -> Answer | None:
        interaction = trigger.interaction
        if interaction is None:
            return self._channel_answer(trigger, self._guild_upload_limit(trigger.guild_id))
        try:
            await interaction.response.defer(thinking=True)
        except discord.HTTPException as err:  # e.g. 10062: acknowledged too late
            log.warning("could not acknowledge interaction %s: %s", interaction.id, err)
            return None
        fallback = None
        if trigger.can_post_in_channel:
            fallback = self._channel_answer(trigger, interaction.filesize_limit)
        d = self.settings.discord
        return InteractionAnswer(
            interaction,
            fallback=fallback,
            upload_limit=interaction.filesize_limit,
            lifetime_s=d.token_lifetime_s,
            margin_s=d.token_margin_s,
        )

    async def _fetch(self, trigger: Trigger, plan: Plan) -> tuple[HeldImage, tuple[str, ...]]:
        max_side = plan.params.max_side
        try:
            return await self._download(trigger, plan.image, max_side), ()
        except DownloadFailed as err:
            if plan.fallback is None:
                raise
            log.info("input unavailable (%s); dreaming the fallback", err)
        return await self._download(trigger, plan.fallback, max_side), (plan.fallback_note,)

    async def _download(
        self, trigger: Trigger, ref: ImageRef, max_side: int, guide: bool = False
    ) -> HeldImage:
        return await self.intake.fetch(
            ref.url,
            user_id=trigger.user.id,
            max_side=max_side,
            declared_size=ref.declared_size,
            guide=guide,
            link=ref.link,
        )

    async def _refuse(self, trigger: Trigger, err: DreamError) -> None:
        if isinstance(err, QuotaExceeded):
            self.metrics.refused(err)
        text = user_message(err)
        if trigger.interaction is not None:
            try:
                await trigger.interaction.response.send_message(text, ephemeral=True)
            except discord.HTTPException as http:
                log.warning("could not refuse interaction %s: %s", trigger.interaction.id, http)
            return
        # A reaction is not a command: only limits get a (short-lived, one-time) answer.
        if (
            isinstance(err, QuotaExceeded | Busy)
            and trigger.message
            and self._first_refusal(trigger)
        ):
            try:
                await trigger.message.channel.send(
                    f"<@{trigger.user.id}> {text}",
                    delete_after=REFUSAL_LINE_S,
                    allowed_mentions=discord.AllowedMentions(users=True, replied_user=False),
                )
            except discord.HTTPException as http:
                log.info("could not answer a refused reaction: %s", http)

    def _first_refusal(self, trigger: Trigger) -> bool:
        now = self._clock()
        self._told = {k: t for k, t in self._told.items() if now - t < REFUSAL_MEMORY_S}
        key = (trigger.message.id if trigger.message else 0, trigger.user.id)
        if key in self._told:
            return False
        self._told[key] = now
        return True

    def _channel_answer(self, trigger: Trigger, upload_limit: int) -> ChannelAnswer:
        if trigger.message is not None:
            channel: discord.abc.Messageable = trigger.message.channel
        else:
            channel = self.client.get_partial_messageable(
                trigger.channel.id, guild_id=trigger.guild_id
            )
        reply_to = (
            trigger.message.to_reference(fail_if_not_exists=False) if trigger.message else None
        )
        return ChannelAnswer(channel, trigger.user.id, upload_limit, reply_to)

    def _guild_upload_limit(self, guild_id: int | None) -> int:
        guild = self.client.get_guild(guild_id) if guild_id else None
        return guild.filesize_limit if guild else DEFAULT_UPLOAD_LIMIT
