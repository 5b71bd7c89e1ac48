"""bot.quota: limits, precedence, atomic reservations (through the ledger), refunds, restarts,
day rollover."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.errors import QuotaExceeded
from bot.guilds import GuildSettings
from bot.ledger import Delivered, Ledger, Ticket
from bot.order import ImageRef, Order, Plan, Requester
from bot.quota import QuotaService
from bot.settings import QuotaConfig
from bot.store import Store
from bot.tasks import Tasks
from dreamcore.request import make_params

GUILD, USER, OTHER = 10, 1, 2
T0 = datetime(2026, 5, 1, 18, 47, 30, tzinfo=UTC).timestamp()  # 5 h 12 min before midnight


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def store(tmp_path):
    s = await Store.open(tmp_path / "q.sqlite3")
    yield s
    await s.close()


@pytest.fixture
def clock():
    return Clock()


def service(store, clock, **config) -> QuotaService:
    defaults = dict(
        user_daily=3, user_concurrent=0, guild_daily=0, guild_concurrent=0, cooldown_s=0
    )
    return QuotaService(store, QuotaConfig(**{**defaults, **config}), clock)


_ids = iter(range(10**6))
PARAMS = make_params(model="inception5h", layer="mixed4d", steps=3)
SERVER = GuildSettings(GUILD, (), None, True, "🌀")
tickets: dict[str, Ticket] = {}  # job id -> its ticket, held open as a job on its way would


def ledger_of(q: QuotaService) -> Ledger:
    return Ledger(q.store, q, Tasks(), q.clock)


async def reserve(
    q: QuotaService, user=USER, guild=GUILD, roles=(), job_id=None, units=1, follows=False
) -> str:
    job_id = job_id or f"job{next(_ids)}"
    who = Requester(user, guild, 100, tuple(roles))
    part = 1 if follows else 0  # a later image of one request
    plan = Plan(PARAMS, ImageRef(""))
    order = Order("slash", who, SERVER, plan, PARAMS, units, part=part, parts=2)
    tickets[job_id] = await ledger_of(q).reserve(order, job_id)
    return job_id


async def finish(q: QuotaService, job_id: str) -> None:
    await tickets[job_id].running()
    await tickets[job_id].charge(Delivered(queue_s=0.1, run_s=2.0))


async def test_daily_cap_with_friendly_message(store, clock):
    q = service(store, clock)
    for _ in range(3):
        await finish(q, await reserve(q))
    with pytest.raises(QuotaExceeded) as err:
        await reserve(q)
    assert (
        str(err.value) == "You've used your 3 dreams for today; more at 00:00 UTC (in 5 h 12 min)."
    )
    assert err.value.reason == "user_daily"
    await reserve(q, user=OTHER)  # others are unaffected


async def test_in_flight_counts_toward_daily(store, clock):
    q = service(store, clock)
    for _ in range(3):
        await reserve(q)
    with pytest.raises(QuotaExceeded, match="used your 3 dreams"):
        await reserve(q)


async def test_concurrent_cap(store, clock):
    q = service(store, clock, user_daily=0, user_concurrent=2)
    a = await reserve(q)
    await reserve(q)
    with pytest.raises(
        QuotaExceeded, match=r"You already have 2 dreams running; wait for one to finish\."
    ) as err:
        await reserve(q)
    assert err.value.reason == "user_concurrent"
    await finish(q, a)
    await reserve(q)


async def test_refund_frees_quota_and_only_done_is_charged(store, clock):
    q = service(store, clock, user_daily=2)
    a, b = await reserve(q), await reserve(q)
    await tickets[a].refund("failed", "boom")
    await tickets[b].running()
    await tickets[b].refund("cancelled")
    c = await reserve(q)
    await finish(q, c)
    await Ticket(c, store, Tasks(), clock).refund("failed")  # too late: a done row stays charged
    rows = {r.job_id: r for r in await store.jobs()}
    assert (rows[a].status, rows[a].cost, rows[a].error) == ("failed", 0, "boom")
    assert (rows[b].status, rows[b].cost) == ("cancelled", 0)
    assert (rows[c].status, rows[c].cost, rows[c].run_s) == ("done", 1, 2.0)
    st = await q.status(user_id=USER, guild_id=GUILD, role_ids=[])
    assert (st.used_today, st.in_flight, st.remaining, st.daily_limit) == (1, 0, 1, 2)


async def test_user_rule_beats_role_rules_and_roles_most_generous(store, clock):
    q = service(store, clock, user_daily=1)
    await q.set_rule(
        guild_id=GUILD, scope="role", target_id=GUILD, daily=2, concurrent=None
    )  # @everyone
    await q.set_rule(guild_id=GUILD, scope="role", target_id=77, daily=5, concurrent=None)
    await q.set_rule(guild_id=GUILD, scope="user", target_id=USER, daily=4, concurrent=None)
    st = await q.status(user_id=USER, guild_id=GUILD, role_ids=[GUILD, 77])
    assert (st.daily_limit, st.limit_source) == (4, "user rule")
    st = await q.status(user_id=OTHER, guild_id=GUILD, role_ids=[GUILD, 77])
    assert (st.daily_limit, st.limit_source) == (5, "role rule")
    st = await q.status(user_id=OTHER, guild_id=GUILD, role_ids=[GUILD])
    assert st.daily_limit == 2
    await q.set_rule(guild_id=GUILD, scope="role", target_id=88, daily=0, concurrent=None)
    st = await q.status(user_id=OTHER, guild_id=GUILD, role_ids=[GUILD, 77, 88])
    assert st.daily_limit is None and st.remaining is None  # 0 = unlimited is the most generous
    assert await q.reset_rule(guild_id=GUILD, scope="user", target_id=USER)
    st = await q.status(user_id=USER, guild_id=GUILD, role_ids=[])
    assert (st.daily_limit, st.limit_source) == (1, "default")
    assert len(await q.get_rules(GUILD)) == 3


async def test_role_rule_enforced_on_reserve(store, clock):
    q = service(store, clock, user_daily=1)
    await q.set_rule(guild_id=GUILD, scope="role", target_id=77, daily=2, concurrent=None)
    await reserve(q, roles=[77])
    await reserve(q, roles=[77])
    with pytest.raises(QuotaExceeded):
        await reserve(q, roles=[77])


async def test_server_total_caps_everyone(store, clock):
    q = service(store, clock, user_daily=0)
    await q.set_rule(guild_id=GUILD, scope="server", target_id=GUILD, daily=3, concurrent=None)
    for user in (1, 2, 3):
        await finish(q, await reserve(q, user=user))
    with pytest.raises(
        QuotaExceeded, match=r"^This server has used its 3 dreams for today; more at 00:00 UTC"
    ) as err:
        await reserve(q, user=4)
    assert err.value.reason == "guild_daily"
    await reserve(q, guild=99, user=4)  # another server is unaffected
    await reserve(q, guild=None, user=4)  # DMs use only the defaults


async def test_server_concurrent_from_config(store, clock):
    q = service(store, clock, user_daily=0, guild_concurrent=2)
    await reserve(q, user=1)
    await reserve(q, user=2)
    with pytest.raises(QuotaExceeded, match="This server already has 2 dreams running") as err:
        await reserve(q, user=3)
    assert err.value.reason == "guild_concurrent"


async def test_dm_uses_defaults_only(store, clock):
    q = service(store, clock, user_daily=1)
    await q.set_rule(guild_id=GUILD, scope="user", target_id=USER, daily=10, concurrent=None)
    await reserve(q, guild=None)
    with pytest.raises(QuotaExceeded):
        await reserve(q, guild=None)
    st = await q.status(user_id=USER, guild_id=None, role_ids=[])
    assert st.daily_limit == 1 and st.server_daily_limit is None


async def test_fifty_concurrent_reserves_against_cap_of_ten(store, clock):
    q = service(store, clock, user_daily=0, user_concurrent=10)
    results = await asyncio.gather(*(reserve(q) for _ in range(50)), return_exceptions=True)
    assert sum(isinstance(r, str) for r in results) == 10
    assert sum(isinstance(r, QuotaExceeded) for r in results) == 40
    assert len(await store.jobs(statuses=["reserved"])) == 10


async def test_cooldown(store, clock):
    q = service(store, clock, user_daily=0, cooldown_s=30)
    await reserve(q)
    clock.t += 18
    with pytest.raises(QuotaExceeded, match="again in 12 s") as err:
        await reserve(q)
    assert err.value.reason == "cooldown"
    clock.t += 12
    await reserve(q)


async def test_the_parts_of_one_request_are_one_request_for_the_cooldown(store, clock):
    # issue 19 #6: a 🌀 on a three-image message dreamed the first and refused the rest
    q = service(store, clock, user_daily=0, user_concurrent=1, cooldown_s=30)
    first = await reserve(q)
    clock.t += 5
    second = await reserve(q, follows=True)  # the message's second image (while one runs)
    clock.t += 5
    third = await reserve(q, follows=True)  # and its third
    for job in (first, second, third):
        await finish(q, job)
    clock.t += 12
    with pytest.raises(QuotaExceeded, match="again in 18 s") as err:
        await reserve(q)  # a new request waits out the cooldown from the last part
    assert err.value.reason == "cooldown"


async def test_day_rollover(store, clock):
    q = service(store, clock, user_daily=1)
    await finish(q, await reserve(q))
    with pytest.raises(QuotaExceeded):
        await reserve(q)
    st = await q.status(user_id=USER, guild_id=GUILD, role_ids=[])
    assert st.resets_at == datetime(2026, 5, 2, tzinfo=UTC)
    clock.t = datetime(2026, 5, 2, 0, 0, 1, tzinfo=UTC).timestamp()
    await reserve(q)


async def test_reconcile_after_crash(tmp_path, clock):
    path = tmp_path / "crash.sqlite3"
    store = await Store.open(path)
    q = service(store, clock, user_daily=2)
    a, b, c = await reserve(q), await reserve(q, user=OTHER), await reserve(q, user=3)
    await tickets[b].running()
    await finish(q, c)
    await store.close()  # the bot "crashes" with a reserved and b running

    store = await Store.open(path)
    try:
        q = service(store, clock, user_daily=2)
        lost = await ledger_of(q).reconcile_after_restart()
        assert sorted(r.job_id for r in lost) == sorted([a, b])
        assert all(r.status == "lost" and r.cost == 0 and r.error for r in lost)
        assert (await store.get_job(c)).status == "done"
        assert await ledger_of(q).reconcile_after_restart() == []
        st = await q.status(user_id=USER, guild_id=GUILD, role_ids=[])
        assert (st.used_today, st.in_flight) == (0, 0)  # refunded
        late = Ticket(a, store, Tasks(), clock)  # a late result for a lost job is not charged
        await late.charge(Delivered(queue_s=0, run_s=0))
        assert (await store.get_job(a)).cost == 0
    finally:
        await store.close()


async def test_set_rule_validates(store, clock):
    q = service(store, clock)
    with pytest.raises(ValueError):
        await q.set_rule(guild_id=GUILD, scope="server", target_id=5, daily=1, concurrent=1)
    with pytest.raises(ValueError):
        await q.set_rule(guild_id=GUILD, scope="user", target_id=5, daily=-1, concurrent=None)


async def test_an_animation_costs_its_units_and_says_so(store, clock):
    q = service(store, clock, user_daily=6)
    await finish(q, await reserve(q))  # a still: 1
    job = await reserve(q, units=3)  # an animation in flight holds its 3
    with pytest.raises(QuotaExceeded, match="That costs 3 dreams and you have 2 dreams left"):
        await reserve(q, units=3)
    await finish(q, job)
    status = await q.status(user_id=USER, guild_id=GUILD, role_ids=[])
    assert (status.used_today, status.remaining) == (4, 2)
    rows = {r.job_id: r for r in await store.jobs()}
    assert rows[job].cost == 3 and rows[job].units == 3
    with pytest.raises(QuotaExceeded, match="That costs 3"):
        await reserve(q, units=3)
    await reserve(q, units=2)  # exactly what is left
    with pytest.raises(QuotaExceeded, match="used your 6 dreams"):
        await reserve(q)
