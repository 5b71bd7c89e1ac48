"""The commands people dream with: /dream, the "Dream this image" context menu, /dream-help.

Each is a few lines: what to dream (params and image, given the server's settings) goes to the
order desk, which does the rest (bot/orders.py).
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import NoImageFound
from bot.guilds import GuildSettings
from bot.intake import pick_image_attachment, pick_image_attachments
from bot.orders import ImageRef, Plan, Trigger
from bot.params import build_params, layer_choices
from bot.replies import IMAGE_OR_LINK, NO_IMAGE_OR_LINK, help_text
from bot.services import Services
from dreamcore.catalog import PRESETS, class_matches, model_info
from dreamcore.errors import DreamError
from dreamcore.request import MAX_SEED, MAX_SMOOTH

CONTEXT_MENU = "Dream this image"


class DreamCommands(commands.Cog, name="Dream"):
    def __init__(self, bot: commands.Bot, services: Services) -> None:
        self.bot = bot
        self.services = services
        self.engine = services.settings.engine
        # The decorator form can't live inside a Cog: build it here, add it in cog_load.
        self.context_menu = app_commands.ContextMenu(name=CONTEXT_MENU, callback=self.dream_this)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.context_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.context_menu.name, type=self.context_menu.type)

    @app_commands.command(name="dream", description="DeepDream an image")
    @app_commands.describe(
        image="the picture to dream",
        url="or a link to a picture or GIF (https://...)",
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
        spoiler="post the result as a spoiler",
    )
    @app_commands.rename(target_class="class")
    @app_commands.choices(
        preset=[app_commands.Choice(name=p, value=p) for p in PRESETS],
        colors=[app_commands.Choice(name=c, value=c) for c in ("dream", "original")],
        animate=[app_commands.Choice(name=m, value=m) for m in ("zoom", "spin", "pan")],
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
        spoiler: bool = False,
    ) -> None:
        def choose(guild: GuildSettings) -> Plan:
            source = self._input(image, url)
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
                guided=True if guide is not None else None,
            )
            guide_ref = ImageRef.of(guide) if guide else None
            return Plan(params, source, guide=guide_ref, spoiler=spoiler)

        await self.services.orders.take(Trigger.of_interaction("slash", interaction), choose)

    def _input(self, image: discord.Attachment | None, url: str | None) -> ImageRef:
        """What /dream dreams: the attachment or the link (checked by its look before anything
        is said; where it resolves, when it is fetched)."""
        if image is not None and url:
            raise NoImageFound(IMAGE_OR_LINK)
        if url:
            return ImageRef(self.services.intake.check_link(url), link=True)
        if image is None:
            raise NoImageFound(NO_IMAGE_OR_LINK)
        return ImageRef.of(pick_image_attachment([image]))

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

    @app_commands.command(name="dream-help", description="How to dream: layers and options")
    async def dream_help(self, interaction: discord.Interaction) -> None:
        default = self.engine.default_model
        text = help_text([default, *(m for m in self.engine.models if m != default)])
        await interaction.response.send_message(text, ephemeral=True)
