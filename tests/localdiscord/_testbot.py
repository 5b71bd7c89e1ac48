"""A minimal real discord.py bot used by the localdiscord self-tests (not dreambot itself)."""

from __future__ import annotations

import asyncio
import hashlib
import io
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands
from PIL import Image


def png(width: int = 3, height: int = 2) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 90)).save(buf, "PNG")
    return buf.getvalue()


PNG = png()


class Events:
    """Futures/queues the bot fills so that tests can await what the bot saw."""

    def __init__(self) -> None:
        self.reactions: asyncio.Queue[discord.RawReactionActionEvent] = asyncio.Queue()
        self.messages: asyncio.Queue[discord.Message] = asyncio.Queue()
        self.buttons: asyncio.Queue[str] = asyncio.Queue()
        self.context: asyncio.Queue[discord.Message] = asyncio.Queue()
        self.errors: asyncio.Queue[BaseException] = asyncio.Queue()
        self.quota: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self.proceed = asyncio.Event()


class AgainView(discord.ui.View):
    def __init__(self, events: Events):
        super().__init__(timeout=None)
        self.events = events

    @discord.ui.button(label="Again", custom_id="dream:again", style=discord.ButtonStyle.primary)
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.defer()
        self.events.buttons.put_nowait(interaction.data["custom_id"])


def make_bot(
    events: Events, *, message_content: bool = True, members: bool = False
) -> commands.Bot:
    intents = discord.Intents.default()
    intents.message_content = message_content
    intents.members = members
    bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.1)

    @bot.tree.command(name="ping", description="pong with a file")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("pong", file=discord.File(io.BytesIO(PNG), "x.png"))

    @bot.tree.command(name="inspect", description="download an attachment")
    async def inspect_(interaction: discord.Interaction, image: discord.Attachment) -> None:
        async with aiohttp.ClientSession() as session, session.get(image.url) as resp:
            data = await resp.read()
        via_discord = await image.read()
        await interaction.response.send_message(
            f"{len(data)} {hashlib.sha256(data).hexdigest()} {image.width}x{image.height} "
            f"{image.content_type} {via_discord == data} {interaction.filesize_limit}"
        )

    @bot.tree.command(name="buttons", description="a button")
    async def buttons(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("press", view=AgainView(events))

    @bot.tree.command(name="late", description="answers after the test says so")
    async def late(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await events.proceed.wait()
        try:
            await interaction.followup.send("too late")
        except discord.HTTPException as e:
            events.errors.put_nowait(e)

    async def layers(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = ["mixed3a", "mixed4c", "mixed4d", "mixed5b"]
        return [app_commands.Choice(name=n, value=n) for n in names if current in n]

    @bot.tree.command(name="dream", description="autocomplete")
    @app_commands.autocomplete(layer=layers)
    async def dream(interaction: discord.Interaction, layer: str, steps: int = 10) -> None:
        await interaction.response.send_message(f"{layer} {steps}")

    quota = app_commands.Group(
        name="quota",
        description="quotas",
        default_permissions=discord.Permissions(manage_guild=True),
    )

    @quota.command(name="set", description="set the daily quota")
    async def quota_set(interaction: discord.Interaction, daily: int, who: discord.Member) -> None:
        events.quota.put_nowait((who.name, daily))
        await interaction.response.send_message(f"{who.name}={daily}", ephemeral=True)

    bot.tree.add_command(quota)

    async def dream_this(interaction: discord.Interaction, message: discord.Message) -> None:
        events.context.put_nowait(message)
        await interaction.response.send_message(f"{message.id} {len(message.attachments)}")

    bot.tree.add_command(app_commands.ContextMenu(name="Dream this image", callback=dream_this))

    @bot.event
    async def on_raw_reaction_add(payload: discord.RawReactionActionEvent) -> None:
        events.reactions.put_nowait(payload)

    @bot.event
    async def on_message(message: discord.Message) -> None:
        events.messages.put_nowait(message)

    async def setup_hook() -> None:
        bot.add_view(AgainView(events))
        await bot.tree.sync()

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


async def get(queue: asyncio.Queue[Any], timeout: float = 5.0) -> Any:
    return await asyncio.wait_for(queue.get(), timeout)
