"""What happened in Discord (a `Trigger`), and the bot's first word back: a refusal, or the
acknowledgement and the answer a dream then talks through (bot/delivery.py).

A refusal to an interaction is ephemeral (no public noise); a reaction is not a command, so it
gets a short-lived line for limits only, at most once per message and user. The acknowledgement
defers an interaction (Discord wants it within 3 s) and answers through its token, with the
channel as the fallback where the bot may post there; a reaction is answered in the channel.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import discord

from bot.delivery import Answer, ChannelAnswer, InteractionAnswer
from bot.errors import Busy, QuotaExceeded, user_message
from bot.guilds import ChannelRef
from bot.metrics import BotMetrics
from bot.settings import DiscordConfig
from bot.store import Source
from dreamcore.errors import DreamError

log = logging.getLogger(__name__)
REFUSAL_LINE_S = 20.0  # a refusal answered to a reaction deletes itself after this
REFUSAL_MEMORY_S = 600.0  # ... and is said once per message and user in this time
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024


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


class Reception:
    def __init__(
        self,
        client: discord.Client,
        config: DiscordConfig,
        metrics: BotMetrics,
        clock=time.monotonic,
    ) -> None:
        self.client = client
        self.config = config
        self.metrics = metrics
        self._clock = clock
        self._told: dict[tuple[int, int], float] = {}  # (message, user) -> when refused

    async def refuse(self, trigger: Trigger, err: DreamError) -> None:
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

    async def acknowledge(self, trigger: Trigger) -> Answer | None:
        """The answer the dream will talk through; None when Discord refused the
        acknowledgement (too late: nothing more can be said)."""
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
        return InteractionAnswer(
            interaction,
            fallback=fallback,
            upload_limit=interaction.filesize_limit,
            lifetime_s=self.config.token_lifetime_s,
            margin_s=self.config.token_margin_s,
        )

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
