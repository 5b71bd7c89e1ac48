"""bot.orders: the one pipeline, with stand-ins for Discord: what is checked before anything is
acknowledged or downloaded, how refusals are said, and the fallback image."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from bot.errors import DownloadFailed, QuotaExceeded
from bot.guilds import ChannelRef, GuildSettings
from bot.metrics import BotMetrics
from bot.orders import ImageRef, OrderDesk, Plan, Trigger, hides_the_answer
from bot.settings import Settings
from dreamcore.errors import InvalidParams
from dreamcore.request import make_params

PARAMS = make_params(model="tiny", max_side=64)


class Response:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    async def send_message(self, text, ephemeral=False):
        self.calls.append(("message", text, ephemeral))

    async def defer(self, thinking=False):
        self.calls.append(("defer", thinking))


def interaction():
    return SimpleNamespace(id=1, response=Response(), filesize_limit=1000)


class Guilds:
    def __init__(self, allowed=()) -> None:
        self.settings = GuildSettings(5, tuple(allowed), None, True, "🌀")

    def get(self, guild_id):
        return self.settings


class Quota:
    def __init__(self, refusal=None) -> None:
        self.refusal, self.peeks = refusal, 0

    def units_for(self, frames):
        return 1 if frames <= 1 else 1 + (frames - 1) // 4

    async def peek(self, **kw):
        self.peeks += 1
        return self.refusal


class Intake:
    def __init__(self, missing=(), frames=1) -> None:
        self.fetched, self.missing, self.frames = [], set(missing), frames

    async def fetch(self, url, **kw):
        self.fetched.append(url)
        if url in self.missing:
            raise DownloadFailed("gone")
        return SimpleNamespace(
            data=b"x", source=b"y", release=lambda: None, frames=self.frames, size=(8, 8)
        )


class Flow:
    def __init__(self) -> None:
        self.orders = []

    def start(self, order, answer):
        self.orders.append((order, answer))
        return "task"


class Channel:
    def __init__(self) -> None:
        self.sent = []

    async def send(self, text, **kw):
        self.sent.append(text)


def desk(guilds=None, quota=None, intake=None) -> tuple[OrderDesk, Flow]:
    flow = Flow()
    client = SimpleNamespace(
        get_partial_messageable=lambda *a, **k: Channel(), get_guild=lambda gid: None
    )
    d = OrderDesk(
        settings=Settings.model_construct(),
        client=client,
        guilds=guilds or Guilds(),
        quota=quota or Quota(),
        intake=intake or Intake(),
        flow=flow,
        metrics=BotMetrics(),
    )
    return d, flow


def user():
    return SimpleNamespace(id=42, roles=[])


def slash(i) -> Trigger:
    return Trigger("slash", user(), 5, ChannelRef(100), interaction=i)


def plan(guild) -> Plan:
    return Plan(PARAMS, ImageRef("https://cdn/in.png", 10))


async def test_an_accepted_order_is_acknowledged_then_downloaded_then_started():
    d, flow = desk()
    i = interaction()
    assert await d.take(slash(i), plan) == "task"
    assert i.response.calls == [("defer", True)]
    [(order, _answer)] = flow.orders
    assert order.requester.user_id == 42 and order.requester.role_ids == (5,)  # @everyone
    assert order.source == "slash" and order.params == PARAMS


async def test_refusals_come_before_anything_public_and_are_private():
    quota, intake = Quota(QuotaExceeded("over", "user_daily")), Intake()
    d, flow = desk(quota=quota, intake=intake)
    i = interaction()
    assert await d.take(slash(i), plan) is None
    assert i.response.calls == [("message", "over", True)]
    assert intake.fetched == [] and flow.orders == []

    d, _ = desk(guilds=Guilds(allowed=[7]), quota=(q := Quota()))
    i = interaction()
    await d.take(slash(i), plan)
    assert i.response.calls[0][0] == "message" and "<#7>" in i.response.calls[0][1]
    assert q.peeks == 0  # a wrong channel is refused without touching the database

    def bad(guild):
        raise InvalidParams("`relu9` is not a layer")

    d, _ = desk()
    i = interaction()
    await d.take(slash(i), bad)
    assert i.response.calls == [("message", "`relu9` is not a layer", True)]


async def test_a_reaction_is_refused_silently_except_for_limits_said_once():
    channel = Channel()
    message = SimpleNamespace(id=9, channel=channel, to_reference=lambda **k: None)
    trigger = Trigger("reaction", user(), 5, ChannelRef(100), message=message)
    d, _ = desk(guilds=Guilds(allowed=[7]))
    assert await d.take(trigger, plan) is None and channel.sent == []  # wrong channel: silence
    d, _ = desk(quota=Quota(QuotaExceeded("over", "user_daily")))
    await d.take(trigger, plan)
    await d.take(trigger, plan)  # toggling the reaction again
    assert channel.sent == ["<@42> over"]


async def test_a_missing_image_falls_back_with_a_note():
    intake = Intake(missing={"https://cdn/old.png"})
    d, flow = desk(intake=intake)

    def with_fallback(guild: GuildSettings) -> Plan:
        return Plan(
            PARAMS,
            ImageRef("https://cdn/old.png"),
            fallback=ImageRef("https://cdn/dream.png"),
            fallback_note="the original is gone",
        )

    await d.take(slash(interaction()), with_fallback)
    assert intake.fetched == ["https://cdn/old.png", "https://cdn/dream.png"]
    [(order, _)] = flow.orders
    assert order.notes == ("the original is gone",)


@pytest.mark.parametrize("missing", [set(), {"https://cdn/in.png"}])
async def test_without_a_fallback_a_failed_download_is_told(missing):
    d, flow = desk(intake=Intake(missing=missing))
    i = interaction()
    await d.take(slash(i), plan)
    assert bool(flow.orders) == (not missing)


async def test_a_zoom_of_an_animated_upload_is_priced_for_the_frames_it_makes():
    # issue 19 #2: a 2-frame GIF with animate:zoom frames:64 was priced as 2 frames
    quota = Quota()
    d, flow = desk(quota=quota, intake=Intake(frames=2))
    zoom = make_params(model="tiny", max_side=64, animate="zoom", frames=64)
    await d.take(slash(interaction()), lambda guild: Plan(zoom, ImageRef("https://cdn/a.gif")))
    [(order, _)] = flow.orders
    assert order.params.frames == 64 and order.units == quota.units_for(64)


def attachment(name: str, flagged: bool = False):
    return SimpleNamespace(
        filename=name, url=f"https://cdn/{name}", size=10, flags=SimpleNamespace(spoiler=flagged)
    )


def test_a_spoiler_on_any_input_hides_the_whole_answer():
    # Issue 19 #4: one rule, whatever asked for it and whichever input carried it.
    guild, channel = GuildSettings(5, (), None, True, "🌀"), ChannelRef(100)
    plain = Plan(PARAMS, ImageRef.of(attachment("cat.png")))
    assert not plain.image.spoiler and not hides_the_answer([plain], guild, channel)
    hidden_ref = ImageRef.of(attachment("SPOILER_cat.png"))
    hidden = [
        Plan(PARAMS, hidden_ref),
        Plan(PARAMS, ImageRef.of(attachment("cat.png", flagged=True))),  # Discord's own flag
        dataclasses.replace(plain, guide=hidden_ref),
        dataclasses.replace(plain, fallback=hidden_ref),
        dataclasses.replace(plain, spoiler=True),  # /dream spoiler:true
    ]
    for one in hidden:
        assert hides_the_answer([plain, one], guild, channel)  # one image of several hides all
    server = GuildSettings(5, (), None, True, "🌀", spoiler=True)
    assert hides_the_answer([plain], server, channel)


async def test_the_desk_gives_the_order_its_spoiler():
    d, flow = desk()
    await d.take(slash(interaction()), lambda g: Plan(PARAMS, ImageRef.of(attachment("SPOILER_a"))))
    [(order, _)] = flow.orders
    assert order.spoiler
