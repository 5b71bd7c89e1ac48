"""The most recent image in a channel: what `/dream` dreams when given neither an image nor a link.

The bot reads the channel's last `HISTORY_LIMIT` messages, newest first, and takes the first
message's image attachments (the bot's own results count: dreaming one again goes deeper). A
pasted link's embed is not taken (`url:` dreams a link). This runs before the command is
acknowledged, so it has a time budget; where the bot can't read the channel (no Read Message
History, or the app is installed to the user's account only and the bot isn't there) it says so.
"""

from __future__ import annotations

import asyncio

import discord

from bot import replies
from bot.errors import NoImageFound
from bot.intake import pick_image_attachment
from bot.order import ImageRef

HISTORY_LIMIT = 20
HISTORY_BUDGET_S = 1.0  # of the 3 s Discord gives to acknowledge (the quota peek has 1.5)


async def last_image(interaction: discord.Interaction) -> tuple[ImageRef, str]:
    """The newest image attachment among the channel's last messages, and the note that says
    whose it was; NoImageFound (its text for the user) when there is none or it can't look."""
    if not _bot_is_in_channel(interaction):
        raise NoImageFound(replies.HISTORY_NOT_HERE)
    if interaction.is_guild_integration() and not interaction.app_permissions.read_message_history:
        raise NoImageFound(replies.HISTORY_NO_PERMISSION)  # Discord would list no messages
    try:
        async with asyncio.timeout(HISTORY_BUDGET_S):
            async for message in _messageable(interaction).history(limit=HISTORY_LIMIT):
                try:
                    image = pick_image_attachment(message.attachments)
                except NoImageFound:
                    continue  # text only, or files that aren't images
                note = replies.last_image_note(message.author.mention, message.jump_url)
                return ImageRef.of(image), note
    except (discord.Forbidden, discord.NotFound) as err:
        raise NoImageFound(replies.HISTORY_NOT_HERE) from err
    except (TimeoutError, discord.HTTPException) as err:
        raise NoImageFound(replies.HISTORY_UNREADABLE) from err
    raise NoImageFound(replies.no_recent_image_text(HISTORY_LIMIT))


def _bot_is_in_channel(interaction: discord.Interaction) -> bool:
    """A server that installed the bot, or the bot's own DM; not a user install elsewhere (a
    group DM, someone else's DM, a server without the bot), whose messages the bot can't read."""
    return interaction.is_guild_integration() or interaction.context.dm_channel is True


def _messageable(interaction: discord.Interaction) -> discord.abc.Messageable:
    channel = interaction.channel
    if isinstance(channel, discord.abc.Messageable):
        return channel
    return interaction.client.get_partial_messageable(
        interaction.channel_id or 0, guild_id=interaction.guild_id
    )
