"""bot.orders: the one way in, with stand-ins for Discord: what is checked before anything is
acknowledged or downloaded, how refusals are said, and the orders handed to the flow."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

from bot.errors import QuotaExceeded
from bot.guilds import ChannelRef, GuildSettings
from bot.metrics import BotMetrics
from bot.order import ImageRef, Plan, hides_the_answer
from bot.orders import OrderDesk, Trigger
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
        self.peeks, self.peeked = self.peeks + 1, kw
        return self.refusal


class Flow:
    def __init__(self) -> None:
        self.orders = []

    def start(self, orders, answer):
        self.orders.extend((order, answer) for order in orders)
        return "task"


class Channel:
    def __init__(self) -> None:
        self.sent = []

    async def send(self, text, **kw):
        self.sent.append(text)


def desk(guilds=None, quota=None) -> tuple[OrderDesk, Flow]:
    flow = Flow()
    client = SimpleNamespace(
        get_partial_messageable=lambda *a, **k: Channel(), get_guild=lambda gid: None
    )
    d = OrderDesk(
        settings=Settings.model_construct(),
        client=client,
        guilds=guilds or Guilds(),
        quota=quota or Quota(),
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
    quota = Quota(QuotaExceeded("over", "user_daily"))
    d, flow = desk(quota=quota)
    i = interaction()
    assert await d.take(slash(i), plan) is None
    assert i.response.calls == [("message", "over", True)]
    assert flow.orders == []  # nothing handed on, so nothing downloaded

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


async def test_a_members_roles_are_read_once_per_request():
    # issue 21: the desk read them for the quota peek, and again for the order it started
    class Member:
        id, reads = 42, 0

        @property
        def roles(self):
            self.reads += 1
            return [SimpleNamespace(id=77)]

    member, quota = Member(), Quota()
    d, flow = desk(quota=quota)
    await d.take(Trigger("slash", member, 5, ChannelRef(100), interaction=interaction()), plan)
    [(order, _)] = flow.orders
    assert member.reads == 1 and order.requester.role_ids == (5, 77)
    assert quota.peeked["role_ids"] == order.requester.role_ids  # the same, asked once
