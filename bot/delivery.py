"""Where a job talks back: through the interaction's token, or as channel messages.

An interaction token dies 15 minutes after the click; a job that waits in a long queue must then
answer in the channel instead (mentioning the requester, replying to the source image when there is
one). `InteractionAnswer` switches over by itself, before the deadline or on a 401/50027 reply.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

import discord

from bot.replies import ready_text

log = logging.getLogger(__name__)

INVALID_WEBHOOK_TOKEN = 50027
UNKNOWN_WEBHOOK = 10015
MENTION_USERS = discord.AllowedMentions(everyone=False, roles=False, users=True, replied_user=True)
PREVIEW_NAME = "preview.jpg"


def preview_file(preview: bytes) -> discord.File:
    return discord.File(io.BytesIO(preview), filename=PREVIEW_NAME)


def is_token_dead(err: discord.HTTPException) -> bool:
    return err.status == 401 or err.code in (INVALID_WEBHOOK_TOKEN, UNKNOWN_WEBHOOK)


def is_too_large(err: discord.HTTPException) -> bool:
    return err.status == 413 or err.code == 40005


@dataclass
class Upload:
    """A result ready to post; `file()` builds a fresh discord.File per attempt (they are one-shot)."""

    data: bytes
    filename: str
    embed: discord.Embed
    view: discord.ui.View | None

    def file(self) -> discord.File:
        return discord.File(io.BytesIO(self.data), filename=self.filename)


class Answer(Protocol):
    upload_limit: int

    async def status(self, text: str, preview: bytes | None = None) -> None: ...
    async def deliver(self, upload: Upload) -> discord.Message | None: ...
    async def fail(self, text: str) -> None: ...


@dataclass
class ChannelAnswer:
    """Answers as channel messages: one status message edited in place, then the result as a reply."""

    channel: discord.abc.Messageable
    requester_id: int
    upload_limit: int
    reply_to: discord.MessageReference | None = None
    _status_message: discord.Message | None = field(default=None, init=False)

    async def status(self, text: str, preview: bytes | None = None) -> None:
        files = [preview_file(preview)] if preview else []
        try:
            if self._status_message is None:
                self._status_message = await self.channel.send(
                    text,
                    files=files,
                    reference=self.reply_to,
                    mention_author=False,
                    allowed_mentions=discord.AllowedMentions.none(),
                )
            elif files:
                await self._status_message.edit(content=text, attachments=files)
            else:
                await self._status_message.edit(content=text)
        except discord.HTTPException as err:  # progress is a nicety; never fail a job over it
            log.debug("status message failed: %s", err)

    async def deliver(self, upload: Upload) -> discord.Message | None:
        message = await self.channel.send(
            ready_text(self.requester_id),
            file=upload.file(),
            embed=upload.embed,
            view=upload.view,
            reference=self.reply_to,
            allowed_mentions=MENTION_USERS,
        )
        await self._drop_status()
        return message

    async def fail(self, text: str) -> None:
        content = f"<@{self.requester_id}> {text}"
        try:
            if self._status_message is not None:
                await self._status_message.edit(
                    content=content, attachments=[], allowed_mentions=MENTION_USERS
                )
            else:
                await self.channel.send(
                    content, reference=self.reply_to, allowed_mentions=MENTION_USERS
                )
        except discord.HTTPException as err:
            log.warning("could not tell user %s about a failure: %s", self.requester_id, err)

    async def _drop_status(self) -> None:
        if self._status_message is not None:
            try:
                await self._status_message.delete()
            except discord.HTTPException:
                pass
            self._status_message = None


class InteractionAnswer:
    """Answers through a deferred interaction until its token is (nearly) dead, then in the channel."""

    def __init__(
        self,
        interaction: discord.Interaction,
        *,
        fallback: ChannelAnswer,
        lifetime_s: float,
        margin_s: float,
        clock=time.monotonic,
    ) -> None:
        self.interaction = interaction
        self.fallback = fallback
        self.upload_limit = fallback.upload_limit
        self._clock = clock
        self._deadline = clock() + lifetime_s - margin_s  # measured from when we received it
        self._dead = False

    @property
    def token_usable(self) -> bool:
        return not self._dead and self._clock() < self._deadline

    async def status(self, text: str, preview: bytes | None = None) -> None:
        if not self.token_usable:
            return  # no progress in the channel: one result message is enough noise
        try:
            if preview:  # the dream so far, small, under the progress bar
                await self.interaction.edit_original_response(
                    content=text, attachments=[preview_file(preview)]
                )
            else:
                await self.interaction.edit_original_response(content=text)
        except discord.HTTPException as err:
            self._note_failure(err)

    async def deliver(self, upload: Upload) -> discord.Message | None:
        if self.token_usable:
            try:
                return await self.interaction.edit_original_response(
                    content=None, attachments=[upload.file()], embed=upload.embed, view=upload.view
                )
            except discord.HTTPException as err:
                if is_too_large(err):
                    raise
                self._note_failure(err)
                if not self._dead:
                    raise
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
        await self.fallback.fail(text)

    def _note_failure(self, err: discord.HTTPException) -> None:
        if is_token_dead(err):
            log.info("interaction token expired; answering in the channel instead")
            self._dead = True
        else:
            log.warning("interaction edit failed: %s", err)
