"""Persistent buttons: state in the custom_id, no timeout, who may delete, what Re-roll dreams."""

import random
import re
from types import SimpleNamespace

import discord

from bot import layout, replies
from bot.buttons import (
    DreamButton,
    animate_plan,
    deeper_plan,
    may_delete,
    reroll_plan,
    result_view,
    with_guide,
)
from bot.guilds import GuildSettings
from bot.orders import ImageRef, Plan
from bot.posted import PostedResult
from dreamcore.config import EngineConfig
from dreamcore.request import make_params
from tests.helpers import dream_result

ENGINE = EngineConfig(models=("tiny",), default_model="tiny", max_side_cap=512)
GUILD = GuildSettings(1, (), 128, True, "🌀")


def test_custom_ids_are_short_and_match_the_template():
    view = result_view(123456789012345678)
    assert view.timeout is None
    ids = [item.custom_id for item in view.children]
    assert ids == [
        "dream:deeper:123456789012345678",
        "dream:reroll:123456789012345678",
        "dream:animate:123456789012345678",
        "dream:edit:123456789012345678",
        "dream:delete:123456789012345678",
    ]
    under_an_animation = [item.custom_id for item in result_view(1, still=False).children]
    assert under_an_animation == [
        "dream:deeper:1",
        "dream:reroll:1",
        "dream:edit:1",
        "dream:delete:1",
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


def _message(*filenames: str, thumbnail: str | None = None):
    params = make_params(model="tiny", layer="relu1", seed=4, max_side=400)
    result = dream_result(seed=4)
    embed = layout.result_embed(
        result, params, requester_id=1, job_id="j", queue_s=0, with_source=None
    )
    if thumbnail:
        embed.set_thumbnail(url=thumbnail)
    attachments = [
        SimpleNamespace(filename=name, url=f"https://cdn/{name}", size=10) for name in filenames
    ]
    return SimpleNamespace(embeds=[embed], attachments=attachments)


def _posted(*filenames: str, thumbnail: str | None = None) -> PostedResult:
    """A result the ledger doesn't know: what it dreams is read from its embed."""
    return PostedResult.of(_message(*filenames, thumbnail=thumbnail))


def test_deeper_dreams_the_result_under_todays_cap():
    plan = deeper_plan(_posted("dream.png", "source.jpg"), ENGINE)(GUILD)
    assert plan.image.url == "https://cdn/dream.png"
    assert plan.params.max_side == 128 and plan.params.seed == 4


def test_reroll_dreams_the_attached_source():
    plan = reroll_plan(_posted("dream.png", "source.jpg"), ENGINE, random.Random(1))(GUILD)
    assert plan.image.url == "https://cdn/source.jpg" and not plan.notes
    assert plan.params.seed != 4 and plan.params.max_side == 128


def test_reroll_of_an_old_result_tries_its_link_then_says_the_original_is_gone():
    old = _posted("dream.png", thumbnail="https://cdn/expired-original.png")
    plan = reroll_plan(old, ENGINE)(GUILD)
    assert plan.image.url == "https://cdn/expired-original.png"
    assert plan.fallback.url == "https://cdn/dream.png"
    assert plan.fallback_note == replies.SOURCE_GONE_NOTE
    plan = reroll_plan(_posted("dream.png"), ENGINE)(GUILD)
    assert plan.image.url == "https://cdn/dream.png" and plan.notes == (replies.SOURCE_GONE_NOTE,)


def test_every_re_dream_of_a_spoilered_result_is_hidden():
    # Issue 19 #4: the result's own files say it was a spoiler (state that survives restarts)
    hidden = _message("SPOILER_dream.png", "SPOILER_source.jpg")
    for plan_of in (deeper_plan, reroll_plan, animate_plan):
        assert plan_of(PostedResult.of(hidden), ENGINE)(GUILD).hidden, plan_of.__name__
        assert not plan_of(_posted("dream.png", "source.jpg"), ENGINE)(GUILD).hidden


def test_a_guide_shrunk_into_another_format_still_guides():
    message = _message("dream.png", "source.webp", "guide.webp")
    guided = make_params(model="tiny", layer="relu1", guided=True)
    plan = with_guide(message, guided, Plan(guided, ImageRef("https://cdn/dream.png")))
    assert plan.guide.url == "https://cdn/guide.webp" and plan.params.guided
