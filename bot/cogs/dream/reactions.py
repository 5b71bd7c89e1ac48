"""🌀 on a message re-dreams it: the bot's own result (dreamed again, new seed) or, with the
Message Content intent, a member's image. One re-dream per message and user at a time.

Raw events, because the message may not be in the cache; the bot's own reactions are ignored.
A result is dreamed again with the params it was dreamed with (bot.posted: the ledger's record).
A reaction is not a command: where dreaming is not allowed it is silently ignored.
"""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.buttons import with_guide
from bot.guilds import ChannelRef, GuildSettings
from bot.intake import pick_image_attachments
from bot.orders import Choose, ImageRef, Plan, Trigger
from bot.params import build_params, within_guild
from bot.posted import PostedResult
from bot.services import Services
from dreamcore.errors import DreamError

log = logging.getLogger(__name__)


class Reactions(commands.Cog):
    def __init__(self, bot: commands.Bot, services: Services) -> None:
        self.bot = bot
        self.services = services
        self._busy: set[tuple[int, int]] = set()  # (message id, user id) with a re-dream on

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        me = self.bot.user
        if me is None or payload.user_id == me.id or payload.guild_id is None:
            return
        guild = self.services.guilds.get(payload.guild_id)
        if not guild.reaction_redream or str(payload.emoji) != guild.reaction_emoji:
            return
        key = (payload.message_id, payload.user_id)
        if key in self._busy:
            return
        self._busy.add(key)
        try:
            task = await self._redream(payload, me.id)
        except Exception as err:  # a reaction has nobody to answer; log it
            if not isinstance(err, DreamError | discord.HTTPException):
                log.exception("reaction re-dream failed")
            task = None
        if task is None:
            self._busy.discard(key)
        else:
            task.add_done_callback(lambda _: self._busy.discard(key))

    async def _redream(self, payload: discord.RawReactionActionEvent, my_id: int):
        channel = self.bot.get_channel(payload.channel_id) or await self.bot.fetch_channel(
            payload.channel_id
        )
        if not isinstance(channel, discord.abc.Messageable):
            return None
        message = await channel.fetch_message(payload.message_id)
        choose = await self._plan(message, ours=message.author.id == my_id)
        if choose is None:
            return None
        user = payload.member or await self.bot.fetch_user(payload.user_id)
        where = ChannelRef.of(channel, payload.channel_id)
        trigger = Trigger("reaction", user, payload.guild_id, where, message=message)
        return await self.services.orders.take(trigger, choose)

    async def _plan(self, message: discord.Message, *, ours: bool) -> Choose | None:
        engine = self.services.settings.engine
        if ours:
            posted = await PostedResult.read(message, self.services.store)
            dream = posted.attachment("dream.")
            if posted.embed is None or dream is None:
                return None

            def again(guild: GuildSettings) -> Plan:
                params = posted.params().model_copy(update={"seed": None})  # a new seed
                plan = Plan(within_guild(params, engine, guild), ImageRef.of(dream))
                return with_guide(message, params, plan)

            return again
        if not self.bot.intents.message_content:
            return None  # other people's attachments are invisible without the intent
        limit = self.services.settings.discord.images_per_message
        try:
            images = pick_image_attachments(message.attachments, limit)
        except DreamError:
            return None

        def theirs(guild: GuildSettings) -> list[Plan]:  # every image, up to the limit
            params = build_params(engine, guild)
            return [Plan(params, ImageRef.of(a)) for a in images]

        return theirs
