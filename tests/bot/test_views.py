"""Persistent buttons: state in the custom_id, no timeout, delete permission."""

import re
from types import SimpleNamespace

import discord

from bot.views import DreamButton, may_delete, result_view


def test_custom_ids_are_short_and_match_the_template():
    view = result_view(123456789012345678)
    assert view.timeout is None
    ids = [item.custom_id for item in view.children]
    assert ids == [
        "dream:deeper:123456789012345678",
        "dream:reroll:123456789012345678",
        "dream:delete:123456789012345678",
    ]
    template = DreamButton.__discord_ui_compiled_template__
    for cid in ids:
        assert len(cid) <= 100 and template.fullmatch(cid)


async def test_from_custom_id_rebuilds_the_button():
    match = re.fullmatch(DreamButton.__discord_ui_compiled_template__, "dream:reroll:77")
    item = await DreamButton.from_custom_id(None, None, match)
    assert (item.action, item.requester_id) == ("reroll", 77)


def test_only_requester_or_manager_may_delete():
    perms_none = discord.Permissions.none()
    perms_mgr = discord.Permissions(manage_guild=True)
    assert may_delete(SimpleNamespace(id=1, guild_permissions=perms_none), 1)
    assert not may_delete(SimpleNamespace(id=2, guild_permissions=perms_none), 1)
    assert may_delete(SimpleNamespace(id=2, guild_permissions=perms_mgr), 1)
    assert not may_delete(SimpleNamespace(id=2), 1)
