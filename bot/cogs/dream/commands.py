"""The commands people dream with: /dream, the "Dream this image" and "Dream avatar" context
menus, /dream-help.

Each is a few lines: what to dream (params and image, given the server's settings) goes to the
order desk, which does the rest (bot/orders.py).
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.avatars import avatar_image
from bot.errors import NoImageFound
from bot.guilds import GuildSettings
from bot.intake import pick_image_attachment, pick_image_attachments
from bot.orders import ImageRef, Plan, Trigger
from bot.params import MAX_VARIANTS, build_params, layer_choices
from bot.recent import last_image
from bot.replies import IMAGE_OR_LINK, help_text
from bot.services import Services
from dreamcore.catalog import PRESETS, class_matches, model_info
from dreamcore.errors import DreamError
from dreamcore.request import MAX_SEED, MAX_SMOOTH

CONTEXT_MENU = "Dream this image"
AVATAR_MENU = "Dream avatar"


class DreamCommands(commands.Cog, name="Dream"):
    def __init__(self, bot: commands.Bot, services: Services) -> None:
        self.bot = bot
        self.services = services
        self.engine = services.settings.engine
        # The decorator form can't live inside a Cog: build it here, add it in cog_load.
        self.context_menus = (
            app_commands.ContextMenu(name=CONTEXT_MENU, callback=self.dream_this),
            app_commands.ContextMenu(name=AVATAR_MENU, callback=self.dream_avatar),
        )

    async def cog_load(self) -> None:
        for menu in self.context_menus:
            self.bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.context_menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    @app_commands.command(name="dream", description="DeepDream an image")
    @app_commands.describe(
        image="the picture, GIF or video (MP4, WebM, MOV) to dream (none: the last image here)",
        url="or a link to a picture, GIF or video (https://...)",
        layer="what to dream; `layer:channel` for one channel",
        model="the network to dream with",
        preset="pick a layer by look",
        octaves="scales to dream at (more = bigger patterns)",
        steps="steps per octave",
        strength="step size",
        jitter="random shift per step, in pixels",
        seed="same seed + same settings = same dream",
        size="longest side of the result, in pixels",
        guide="an image whose shapes and textures the dream borrows",
        target_class="dream a thing instead of a layer, e.g. banana",
        smooth="1-8: softer, more colourful dreams (0 = classic)",
        colors="keep the photo's colours (original) or let the dream recolour it",
        animate="make an animation: zoom into the dream, spin, or pan",
        frames="frames of the animation (costs 1 dream + 1 per 4 frames)",
        output="an animation's format: webp (plays in Discord; the default), gif or mp4",
        spoiler="post the result as a spoiler",
        variants="2-4 dreams of it that differ (other channels of the layer), in one reply",
    )
    @app_commands.rename(target_class="class")
    @app_commands.choices(
        preset=[app_commands.Choice(name=p, value=p) for p in PRESETS],
        colors=[app_commands.Choice(name=c, value=c) for c in ("dream", "original")],
        animate=[app_commands.Choice(name=m, value=m) for m in ("zoom", "spin", "pan")],
        output=[app_commands.Choice(name=f, value=f) for f in ("webp", "gif", "mp4")],
    )
    async def dream(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment | None = None,
        url: str | None = None,
        layer: str | None = None,
        model: str | None = None,
        preset: str | None = None,
        octaves: app_commands.Range[int, 1, 8] | None = None,
        steps: app_commands.Range[int, 1, 100] | None = None,
        strength: app_commands.Range[float, 0.1, 10.0] | None = None,
        jitter: app_commands.Range[int, 0, 128] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        size: app_commands.Range[int, 64, 8192] | None = None,
        guide: discord.Attachment | None = None,
        target_class: str | None = None,
        smooth: app_commands.Range[int, 0, MAX_SMOOTH] | None = None,
        colors: str | None = None,
        animate: str | None = None,
        frames: app_commands.Range[int, 2, 64] | None = None,
        output: str | None = None,
        spoiler: bool = False,
        variants: app_commands.Range[int, 2, MAX_VARIANTS] | None = None,
    ) -> None:
        async def choose(guild: GuildSettings) -> Plan | list[Plan]:
            source, notes = await self._input(interaction, image, url)
            if guide is not None:
                pick_image_attachment([guide], what="The guide")
            params = build_params(
                self.engine,
                guild,
                model=model,
                layer=layer,
                preset=preset,
                size=size,
                octaves=octaves,
                steps=steps,
                strength=strength,
                jitter=jitter,
                seed=seed,
                target_class=target_class,
                smooth=smooth,
                colors=colors,
                animate=animate,
                frames=frames,
                output=output,
                guided=True if guide is not None else None,
            )
            guide_ref = ImageRef.of(guide) if guide else None
            return Plan(params, source, notes, guide=guide_ref, spoiler=spoiler).variants(variants)

        await self.services.orders.take(Trigger.of_interaction("slash", interaction), choose)

    async def _input(
        self, interaction: discord.Interaction, image: discord.Attachment | None, url: str | None
    ) -> tuple[ImageRef, tuple[str, ...]]:
        """What /dream dreams, and a note saying so where it wasn't given: the attachment, the
        link (checked by its look before anything is said; where it resolves, when it is
        fetched), or else the last image posted in the channel."""
        if image is not None and url:
            raise NoImageFound(IMAGE_OR_LINK)
        if url:
            return ImageRef(self.services.intake.check_link(url), link=True), ()
        if image is None:
            found, note = await last_image(interaction)
            return found, (note,)
        return ImageRef.of(pick_image_attachment([image])), ()

    @dream.autocomplete("model")
    async def _model_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        return [
            app_commands.Choice(name=f"{name} — {model_info(name).title}"[:100], value=name)
            for name in self.engine.models
            if typed in name.lower()
        ][:25]

    @dream.autocomplete("target_class")
    async def _class_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        model = getattr(interaction.namespace, "model", None) or self.engine.default_model
        return [app_commands.Choice(name=n, value=n) for n in class_matches(model, current)]

    @dream.autocomplete("layer")
    async def _layer_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        model = getattr(interaction.namespace, "model", None) or self.engine.default_model
        try:
            return layer_choices(model, current)
        except DreamError:
            return []

    async def dream_this(self, interaction: discord.Interaction, message: discord.Message) -> None:
        limit = self.services.settings.discord.images_per_message

        def choose(guild: GuildSettings) -> list[Plan]:  # every image of the message, up to limit
            params = build_params(self.engine, guild)
            images = pick_image_attachments(message.attachments, limit)
            return [Plan(params, ImageRef.of(a)) for a in images]

        trigger = Trigger.of_interaction("context", interaction, message)
        await self.services.orders.take(trigger, choose)

    async def dream_avatar(
        self, interaction: discord.Interaction, user: discord.Member | discord.User
    ) -> None:
        def choose(guild: GuildSettings) -> Plan:
            image, note = avatar_image(user)
            return Plan(build_params(self.engine, guild), image, (note,))

        await self.services.orders.take(Trigger.of_interaction("context", interaction), choose)

    @app_commands.command(name="dream-help", description="How to dream: layers and options")
    async def dream_help(self, interaction: discord.Interaction) -> None:
        default = self.engine.default_model
        text = help_text([default, *(m for m in self.engine.models if m != default)])
        await interaction.response.send_message(text, ephemeral=True)
