"""Where a job talks back: through the interaction's token, or as channel messages.

An interaction token dies 15 minutes after the click; a job that waits in a long queue must then
answer in the channel instead (mentioning the requester, replying to the source image when there is
one). `InteractionAnswer` switches over by itself, before the deadline or on a 401/50027 reply.

Status lines are best effort: any error there is logged and skipped, never a failed dream. A
delivery that dies in transit (connection reset after the upload) is checked before anyone calls
it failed: a dream that reached Discord is never taken back.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import discord

from bot.layout import SPOILER
from bot.replies import TOKEN_EXPIRED, lost_after_restart_text, ready_text
from bot.store import LedgerRow
from dreamcore.errors import DreamError

log = logging.getLogger(__name__)


class TokenExpired(DreamError):
    """The interaction's token died and there is no channel to answer in instead."""

    code = "token_expired"


INVALID_WEBHOOK_TOKEN = 50027


def _given(**values: object) -> dict[str, Any]:
    """Only the arguments that are set. discord.py reads a None view or reference as "none" at
    runtime, but its typed overloads don't accept None; and to edit(), an absent view means "keep
    the one there", not "remove it"."""
    return {name: value for name, value in values.items() if value is not None}


UNKNOWN_WEBHOOK = 10015
# Mention the requester by name in the text; never ping the author of the message replied to
# (ten people re-dreaming one picture must not ping its author ten times).
MENTION_USERS = discord.AllowedMentions(everyone=False, roles=False, users=True, replied_user=False)
TRANSIT_ERRORS = (aiohttp.ClientError, TimeoutError, ConnectionError)
PREVIEW_NAME = "preview.jpg"


def spoiler_name(filename: str) -> str:
    """Discord blurs an attachment whose name starts with SPOILER_ until it is clicked."""
    return filename if filename.startswith(SPOILER) else f"{SPOILER}{filename}"


def preview_file(preview: bytes, spoiler: bool = False) -> discord.File:
    name = spoiler_name(PREVIEW_NAME) if spoiler else PREVIEW_NAME
    return discord.File(io.BytesIO(preview), filename=name)


def is_token_dead(err: discord.HTTPException) -> bool:
    return err.status == 401 or err.code in (INVALID_WEBHOOK_TOKEN, UNKNOWN_WEBHOOK)


def is_too_large(err: discord.HTTPException) -> bool:
    return err.status == 413 or err.code == 40005


@dataclass
class Upload:
    """A result ready to post; `files()` builds fresh discord.Files per attempt (they are one-shot).

    `extras` are attached after the dream: its source (the embed's "before" thumbnail and what
    Re-roll dreams again) and a guide, as (name, bytes). Message attachments get fresh URLs
    whenever the message is read, so buttons can always fetch them."""

    data: bytes
    filename: str
    embed: discord.Embed | None  # None: a Components V2 reply (its view says everything)
    view: discord.ui.View | discord.ui.LayoutView | None
    extras: tuple[tuple[str, bytes], ...] = ()
    more_embeds: list[discord.Embed] = field(default_factory=list)  # several dreams in one

    @property
    def embeds(self) -> list[discord.Embed]:
        return [] if self.embed is None else [self.embed, *self.more_embeds]

    @property
    def size(self) -> int:
        """The bytes of its files together (what the upload limit counts)."""
        return len(self.data) + sum(len(data) for _, data in self.extras)

    @property
    def is_layout(self) -> bool:
        """A Components V2 message: no content, no embeds, only its view's components."""
        return isinstance(self.view, discord.ui.LayoutView)

    def files(self) -> list[discord.File]:
        named = [(self.filename, self.data), *self.extras]
        return [discord.File(io.BytesIO(data), filename=name) for name, data in named]

    def is_in(self, message: discord.Message | None) -> bool:
        return message is not None and any(a.filename == self.filename for a in message.attachments)

    def as_spoiler(self) -> Upload:
        """Every file blurred; the embeds show none of them (they would show them unblurred)."""
        for embed in self.embeds:
            embed.set_image(url=None).set_thumbnail(url=None)
        extras = tuple((spoiler_name(name), data) for name, data in self.extras)
        return dataclasses.replace(self, filename=spoiler_name(self.filename), extras=extras)


class Answer(Protocol):
    upload_limit: int

    async def status(
        self,
        text: str,
        preview: bytes | None = None,
        view: discord.ui.View | None = None,
        *,
        spoiler: bool = False,  # the preview too is a file of a hidden answer
    ) -> None: ...
    async def deliver(self, upload: Upload) -> discord.Message | None: ...
    async def fail(self, text: str) -> None: ...


@dataclass
class ChannelAnswer:
    """Answers as channel messages: one status line edited in place, then the result as a reply."""

    channel: discord.abc.Messageable
    requester_id: int
    upload_limit: int
    reply_to: discord.MessageReference | None = None
    _status_message: discord.Message | None = field(default=None, init=False)

    async def status(
        self,
        text: str,
        preview: bytes | None = None,
        view: discord.ui.View | None = None,
        *,
        spoiler: bool = False,
    ) -> None:
        files = [preview_file(preview, spoiler)] if preview else []
        extra = _given(view=view)
        try:
            if self._status_message is None:
                self._status_message = await self.channel.send(
                    text,
                    files=files,
                    mention_author=False,
                    allowed_mentions=discord.AllowedMentions.none(),
                    **_given(reference=self.reply_to),
                    **extra,
                )
            elif files:
                await self._status_message.edit(content=text, attachments=files, **extra)
            else:
                await self._status_message.edit(content=text, **extra)
        except Exception as err:  # noqa: BLE001 - progress is a nicety; never fail a job over it
            log.info("status message skipped: %r", err)

    async def deliver(self, upload: Upload) -> discord.Message | None:
        # A V2 reply says who it is for in its own text (a content would be refused)
        words: dict[str, Any] = {}
        if not upload.is_layout:
            words = {"content": ready_text(self.requester_id), "embeds": upload.embeds}
        message = await self.channel.send(
            files=upload.files(),
            allowed_mentions=MENTION_USERS,
            **words,
            **_given(view=upload.view, reference=self.reply_to),
        )
        await self._drop_status()
        return message

    async def fail(self, text: str) -> None:
        content = f"<@{self.requester_id}> {text}"
        try:
            if self._status_message is not None:  # its Cancel goes: nothing is left to stop
                await self._status_message.edit(
                    content=content, attachments=[], view=None, allowed_mentions=MENTION_USERS
                )
            else:
                await self.channel.send(
                    content, allowed_mentions=MENTION_USERS, **_given(reference=self.reply_to)
                )
        except Exception as err:  # noqa: BLE001 - nothing more can be done; say so in the log
            log.warning("could not tell user %s about a failure: %r", self.requester_id, err)

    async def _drop_status(self) -> None:
        if self._status_message is not None:
            try:
                await self._status_message.delete()
            except Exception:  # noqa: BLE001 - a leftover status line is harmless
                pass
            self._status_message = None


class InteractionAnswer:
    """Answers through a deferred interaction until its token is (nearly) dead, then in the
    channel."""

    def __init__(
        self,
        interaction: discord.Interaction,
        *,
        fallback: ChannelAnswer | None,
        upload_limit: int,
        lifetime_s: float,
        margin_s: float,
        clock=time.monotonic,
    ) -> None:
        """`fallback` None: the bot can't post in that channel on its own (a user-installed
        command in a DM between users, or in a server the bot is not in)."""
        self.interaction = interaction
        self.fallback = fallback
        self.upload_limit = upload_limit
        self._clock = clock
        self._deadline = clock() + lifetime_s - margin_s  # measured from when we received it
        self._dead = False

    @property
    def token_usable(self) -> bool:
        return not self._dead and self._clock() < self._deadline

    async def status(
        self,
        text: str,
        preview: bytes | None = None,
        view: discord.ui.View | None = None,
        *,
        spoiler: bool = False,
    ) -> None:
        if not self.token_usable:
            return  # no progress in the channel: one result message is enough noise
        extra: dict = {"view": view} if view is not None else {}
        if preview:  # the dream so far, small, under the progress bar
            extra["attachments"] = [preview_file(preview, spoiler)]
        try:
            await self.interaction.edit_original_response(content=text, **extra)
        except discord.HTTPException as err:
            self._note_failure(err)
        except Exception as err:  # noqa: BLE001 - e.g. a connection reset: skip this update
            log.info("progress edit skipped: %r", err)

    async def deliver(self, upload: Upload) -> discord.Message | None:
        if self.token_usable:
            try:
                return await self.interaction.edit_original_response(
                    content=None, attachments=upload.files(), embeds=upload.embeds, view=upload.view
                )
            except discord.HTTPException as err:
                if is_too_large(err):
                    raise
                self._note_failure(err)
                if not self._dead:
                    raise
            except TRANSIT_ERRORS:
                # The upload may have reached Discord before the connection died: look.
                message = await self._original()
                if upload.is_in(message):
                    return message
                raise
        if self.fallback is None:
            raise TokenExpired(TOKEN_EXPIRED)
        return await self.fallback.deliver(upload)

    async def fail(self, text: str) -> None:
        if self.token_usable:
            try:
                await self.interaction.edit_original_response(
                    content=text, attachments=[], embed=None, view=None
                )
                return
            except discord.HTTPException as err:
                self._note_failure(err)
            except Exception as err:  # noqa: BLE001 - fall back to the channel
                log.info("interaction edit failed: %r", err)
        if self.fallback is not None:
            await self.fallback.fail(text)
        else:
            log.info("no way left to tell user %s: %s", self.interaction.user.id, text)

    async def _original(self) -> discord.Message | None:
        try:
            return await self.interaction.original_response()
        except Exception as err:  # noqa: BLE001 - unknown means not delivered
            log.info("could not read the original response back: %r", err)
            return None

    def _note_failure(self, err: discord.HTTPException) -> None:
        if is_token_dead(err):
            log.info("interaction token expired; answering in the channel instead")
            self._dead = True
        else:
            log.warning("interaction edit failed: %s", err)


async def announce_lost(client: discord.Client, rows: list[LedgerRow]) -> None:
    """A restart lost these jobs (already refunded); tell each user where they asked."""
    for row in rows:
        channel_id = row.notify_channel_id or row.channel_id
        try:
            channel = client.get_partial_messageable(channel_id, guild_id=row.guild_id)
            await channel.send(
                lost_after_restart_text(row.user_id, row.job_id),
                allowed_mentions=discord.AllowedMentions(users=True),
            )
        except discord.HTTPException as err:
            log.warning(
                "could not tell user %s about lost job %s: %s", row.user_id, row.job_id, err
            )
