"""Every way to ask for a dream: /dream, the "Dream this image" menu, reactions and buttons.

Handlers validate at the edge (ranges, layer names, allowed channel) and answer within 3 s, then hand
a DreamOrder to the flow in a tracked task so that shutdown can wait for or cancel it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.delivery import ChannelAnswer, InteractionAnswer
from bot.errors import user_message
from bot.flow import DreamOrder, Requester
from bot.replies import help_text, input_url_from_embed, is_result_embed, params_from_embed
from bot.views import may_delete
from dreamcore.catalog import PRESETS, model_info
from dreamcore.errors import DreamError, InvalidImage, PoolClosed, UnknownModel
from dreamcore.request import MAX_SEED, DreamParams, make_params

if TYPE_CHECKING:
    from bot.client import DreamBot

log = logging.getLogger(__name__)
DEFAULT_SIDE = 1024


def requester_of(user: discord.abc.User, guild_id: int | None, channel_id: int) -> Requester:
    roles = tuple(r.id for r in getattr(user, "roles", ()) if r.id != guild_id)  # not @everyone
    return Requester(user.id, guild_id, channel_id, roles)


def layer_choices(model: str, current: str) -> list[app_commands.Choice[str]]:
    """Layers whose name contains what was typed; described (main) layers first. Max 25."""
    info = model_info(model)
    typed = current.strip().lower()
    if ":" in typed:  # `layer:channel` is passed through as typed
        return [app_commands.Choice(name=current[:100], value=current[:100])]
    layers = sorted(info.layers, key=lambda layer: not layer.description)
    out = []
    for layer in layers:
        if typed in layer.name.lower():
            label = f"{layer.name} — {layer.description}" if layer.description else layer.name
            label += f" ({layer.channels} ch)"
            out.append(app_commands.Choice(name=label[:100], value=layer.name))
        if len(out) == 25:
            break
    return out


class DreamCog(commands.Cog, name="Dream"):
    def __init__(self, bot: DreamBot) -> None:
        self.bot = bot
        self.settings = bot.settings
        self._tasks: set[asyncio.Task] = set()
        self._closing = False
        self._reacting: set[tuple[int, int]] = set()  # (message id, user id) with a dream running
        self.ctx_menu = app_commands.ContextMenu(name="Dream this image", callback=self.dream_this)
        # model choices come from the settings, so they are filled in per instance
        param = self.dream._params["model"]
        choices = [app_commands.Choice(name=m, value=m) for m in self.settings.engine.models]
        self.dream._params["model"] = dataclasses.replace(param, choices=choices)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.ctx_menu)  # the decorator form can't live inside a Cog

    async def cog_unload(self) -> None:
        self._closing = True
        self.bot.tree.remove_command(self.ctx_menu.name, type=self.ctx_menu.type)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drain(self, timeout: float) -> None:
        """Wait for running orders to answer (after the pool finished their jobs)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    # --- /dream ----------------------------------------------------------------------------------

    @app_commands.command(name="dream", description="DeepDream an image")
    @app_commands.describe(
        image="the picture to dream",
        layer="what to dream; `layer:channel` for one channel",
        model="the network to dream with",
        preset="pick a layer by look",
        octaves="scales to dream at (more = bigger patterns)",
        steps="steps per octave",
        strength="step size",
        jitter="random shift per step, in pixels",
        seed="same seed + same settings = same dream",
        size="longest side of the result, in pixels",
    )
    @app_commands.choices(preset=[app_commands.Choice(name=p, value=p) for p in PRESETS])
    @app_commands.guild_only()
    async def dream(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        layer: str | None = None,
        model: str | None = None,
        preset: str | None = None,
        octaves: app_commands.Range[int, 1, 8] | None = None,
        steps: app_commands.Range[int, 1, 100] | None = None,
        strength: app_commands.Range[float, 0.1, 10.0] | None = None,
        jitter: app_commands.Range[int, 0, 128] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        size: app_commands.Range[int, 64, 8192] | None = None,
    ) -> None:
        try:
            guild = await self.bot.guild_config(interaction.guild_id)
            self.bot.check_channel(guild, interaction.channel_id)
            params = self.build_params(
                model=model,
                layer=layer,
                preset=preset,
                octaves=octaves,
                steps=steps,
                strength=strength,
                jitter=jitter,
                seed=seed,
                size=size,
                guild_max_side=guild.max_side,
            )
        except DreamError as err:
            await interaction.response.send_message(user_message(err), ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        answer = self.interaction_answer(interaction)
        try:
            data = await self.bot.fetch_image(
                image.url, max_side=params.max_side, declared_size=image.size
            )
        except Exception as err:  # noqa: BLE001 - DownloadFailed/InvalidImage; others get logged
            self._log_unexpected(err, "download")
            await answer.fail(user_message(err))
            return
        requester = requester_of(interaction.user, interaction.guild_id, interaction.channel_id)
        self.start(DreamOrder(requester, data, params, "slash", image.url), answer)

    @dream.autocomplete("layer")
    async def _layer_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        model = getattr(interaction.namespace, "model", None) or self.settings.engine.default_model
        try:
            return layer_choices(model, current)
        except DreamError:
            return []

    # --- context menu ----------------------------------------------------------------------------

    async def dream_this(self, interaction: discord.Interaction, message: discord.Message) -> None:
        from bot.intake import pick_image_attachment

        try:
            guild = await self.bot.guild_config(interaction.guild_id)
            self.bot.check_channel(guild, interaction.channel_id)
            attachment = pick_image_attachment(message.attachments)
            params = self.build_params(guild_max_side=guild.max_side)
        except DreamError as err:
            await interaction.response.send_message(user_message(err), ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        answer = self.interaction_answer(interaction, reply_to=message)
        try:
            data = await self.bot.fetch_image(
                attachment.url, max_side=params.max_side, declared_size=attachment.size
            )
        except Exception as err:  # noqa: BLE001
            self._log_unexpected(err, "download")
            await answer.fail(user_message(err))
            return
        requester = requester_of(interaction.user, interaction.guild_id, interaction.channel_id)
        self.start(DreamOrder(requester, data, params, "context", attachment.url), answer)

    # --- buttons (routed here from bot.views.DreamButton) ---------------------------------------

    async def on_button(
        self, interaction: discord.Interaction, action: str, requester_id: int
    ) -> None:
        message = interaction.message
        if message is None:
            await interaction.response.send_message("That message is gone.", ephemeral=True)
            return
        if action == "delete":
            if not may_delete(interaction.user, requester_id):
                await interaction.response.send_message(
                    "Only the person who asked for this dream, or a server manager, can delete it.",
                    ephemeral=True,
                )
                return
            await interaction.response.defer()
            await message.delete()
            return
        try:
            guild = await self.bot.guild_config(interaction.guild_id)
            self.bot.check_channel(guild, interaction.channel_id)
            embed = next(e for e in message.embeds if is_result_embed(e))
            if action == "deeper":
                params = params_from_embed(embed)
            else:
                params = self.reroll_params(params_from_embed(embed))
        except (DreamError, StopIteration) as err:
            text = (
                user_message(err)
                if isinstance(err, DreamError)
                else "I can't read that dream's settings."
            )
            await interaction.response.send_message(text, ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        answer = self.interaction_answer(interaction, reply_to=message)
        input_url = input_url_from_embed(embed)
        try:
            data = await self._button_input(message, action, input_url, params.max_side)
        except Exception as err:  # noqa: BLE001
            self._log_unexpected(err, "download")
            await answer.fail(user_message(err))
            return
        requester = requester_of(interaction.user, interaction.guild_id, interaction.channel_id)
        next_input = input_url if action == "reroll" else message.attachments[0].url
        self.start(DreamOrder(requester, data, params, "button", next_input), answer)

    async def _button_input(
        self, message: discord.Message, action: str, input_url: str | None, max_side: int
    ) -> bytes:
        """Deeper dreams the result; Re-roll dreams the original input (the result if that is gone)."""
        if not message.attachments:
            raise InvalidImage("That dream's image is gone.")
        result = message.attachments[0]
        if action == "reroll" and input_url:
            try:
                return await self.bot.fetch_image(input_url, max_side=max_side)
            except DreamError as err:
                log.info("re-roll input unavailable (%s); using the result instead", err)
            except Exception as err:  # noqa: BLE001 - e.g. DownloadFailed on an expired CDN link
                log.info("re-roll input unavailable (%s); using the result instead", err)
        return await self.bot.fetch_image(result.url, max_side=max_side, declared_size=result.size)

    # --- reactions -------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if self.bot.user is None or payload.user_id == self.bot.user.id or payload.guild_id is None:
            return
        guild = await self.bot.guild_config(payload.guild_id)
        if not guild.reaction_redream or str(payload.emoji) != guild.reaction_emoji:
            return
        key = (payload.message_id, payload.user_id)
        if key in self._reacting:  # one re-dream per message per user at a time
            return
        try:
            self.bot.check_channel(guild, payload.channel_id)
        except DreamError:
            return  # silently: a reaction is not a command
        self._reacting.add(key)
        try:
            order_answer = await self._reaction_order(payload, guild)
        except Exception as err:  # noqa: BLE001
            self._reacting.discard(key)
            self._log_unexpected(err, "reaction")
            return
        if order_answer is None:
            self._reacting.discard(key)
            return
        task = self.start(*order_answer)
        task.add_done_callback(lambda _t: self._reacting.discard(key))

    async def _reaction_order(
        self, payload: discord.RawReactionActionEvent, guild
    ) -> tuple[DreamOrder, ChannelAnswer] | None:
        from bot.intake import pick_image_attachment

        channel = self.bot.get_channel(payload.channel_id) or await self.bot.fetch_channel(
            payload.channel_id
        )
        message = await channel.fetch_message(payload.message_id)  # type: ignore[union-attr]
        ours = message.author.id == self.bot.user.id  # type: ignore[union-attr]
        embed = next((e for e in message.embeds if is_result_embed(e)), None)
        if ours:
            if embed is None or not message.attachments:
                return None
            attachment = message.attachments[0]
            params = params_from_embed(embed, seed=None)  # a new dream of the result
        else:
            if not self.bot.intents.message_content:
                return None  # other people's attachments are invisible without the intent
            try:
                attachment = pick_image_attachment(message.attachments)
            except DreamError:
                return None
            params = self.build_params(guild_max_side=guild.max_side)
        member = payload.member
        user = member if member is not None else await self.bot.fetch_user(payload.user_id)
        answer = ChannelAnswer(
            channel,
            requester_id=payload.user_id,
            upload_limit=self.guild_upload_limit(payload.guild_id),
            reply_to=message.to_reference(fail_if_not_exists=False),
        )
        try:
            data = await self.bot.fetch_image(
                attachment.url, max_side=params.max_side, declared_size=attachment.size
            )
        except DreamError as err:
            await answer.fail(user_message(err))
            return None
        requester = requester_of(user, payload.guild_id, payload.channel_id)
        input_url = input_url_from_embed(embed) if ours and embed else attachment.url
        return DreamOrder(requester, data, params, "reaction", input_url), answer

    # --- /dream-help -----------------------------------------------------------------------------

    @app_commands.command(name="dream-help", description="How to dream: layers and options")
    async def dream_help(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            help_text(list(self.settings.engine.models)), ephemeral=True
        )

    # --- helpers ---------------------------------------------------------------------------------

    def build_params(
        self,
        *,
        model: str | None = None,
        layer: str | None = None,
        preset: str | None = None,
        guild_max_side: int | None = None,
        size: int | None = None,
        **knobs: object,
    ) -> DreamParams:
        engine = self.settings.engine
        model = model or engine.default_model
        if model not in engine.models:
            raise UnknownModel(
                f"`{model}` is not offered here. Models: {', '.join(engine.models)}."
            )
        if layer is None and preset:
            layer = model_info(model).presets.get(preset)
        cap = min(engine.max_side_cap, guild_max_side or engine.max_side_cap)
        max_side = min(size or DEFAULT_SIDE, cap)
        return make_params(
            model=model, layer=layer, max_side=max_side, tile_size=engine.tile_size, **knobs
        )

    @staticmethod
    def reroll_params(params: DreamParams, rng: random.Random | None = None) -> DreamParams:
        """Another main layer (maybe one channel of it) and a new seed; everything else kept."""
        rng = rng or random.Random()
        info = model_info(params.model)
        main = [layer for layer in info.layers if layer.description and layer.name != params.layer]
        layer = rng.choice(main or list(info.layers))
        channel = rng.randrange(layer.channels) if rng.random() < 0.5 else None
        values = params.model_dump()
        values.update(layer=layer.name, channel=channel, seed=rng.randrange(MAX_SEED))
        return make_params(**values)

    def interaction_answer(
        self, interaction: discord.Interaction, reply_to: discord.Message | None = None
    ) -> InteractionAnswer:
        channel = self.bot.get_partial_messageable(
            interaction.channel_id, guild_id=interaction.guild_id
        )
        fallback = ChannelAnswer(
            channel,
            requester_id=interaction.user.id,
            upload_limit=interaction.filesize_limit,
            reply_to=reply_to.to_reference(fail_if_not_exists=False) if reply_to else None,
        )
        d = self.settings.discord
        return InteractionAnswer(
            interaction, fallback=fallback, lifetime_s=d.token_lifetime_s, margin_s=d.token_margin_s
        )

    def guild_upload_limit(self, guild_id: int | None) -> int:
        guild = self.bot.get_guild(guild_id) if guild_id else None
        return guild.filesize_limit if guild else 10 * 1024 * 1024

    def start(self, order: DreamOrder, answer) -> asyncio.Task:
        if self._closing:  # a handler that was still downloading when shutdown began
            coro = answer.fail(user_message(PoolClosed("shutting down")))
        else:
            coro = self.bot.flow.run(order, answer)
        task = asyncio.create_task(coro, name=f"dream-{order.source}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    def _log_unexpected(err: BaseException, where: str) -> None:
        if not isinstance(err, DreamError) and not type(err).__module__.startswith("bot."):
            log.error("unexpected error in %s", where, exc_info=err)
