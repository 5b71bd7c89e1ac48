"""What "Dream avatar" dreams: a member's server avatar if they set one, else their own, fetched
from Discord's CDN like an attachment. An animated one (its hash starts with `a_`) is asked for
as a GIF, as discord.py's Asset builds its URL, so it is dreamed frame by frame and answered
animated. Discord's default avatar (its logo on a flat colour, shown when none is set) is
refused: there is nothing of theirs to dream."""

from __future__ import annotations

from typing import Any

from bot import replies
from bot.errors import NoImageFound
from bot.order import ImageRef


def avatar_image(user: Any) -> tuple[ImageRef, str]:
    """The avatar to dream of `user` (a Member or a User), and the note that says whose."""
    server = getattr(user, "guild_avatar", None)
    asset = server or user.avatar
    if asset is None:
        raise NoImageFound(replies.no_avatar_text(user.mention))
    return ImageRef(asset.url), replies.avatar_note(user.mention, server=server is not None)
