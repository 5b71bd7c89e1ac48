"""bot.ledger: a job's row moves only through its ticket; leaving the block without a charge
refunds, whatever the way out; and every ledger statement is the store's."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

import bot
from bot.errors import QuotaExceeded
from bot.guilds import GuildSettings
from bot.ledger import Delivered, Ledger
from bot.order import ImageRef, Order, Plan, Requester
from bot.quota import QuotaService
from bot.settings import QuotaConfig
from bot.store import Store
from bot.tasks import Tasks
from dreamcore.errors import DreamCancelled, WorkerCrashed
from dreamcore.request import make_params

PARAMS = make_params(model="tiny", max_side=64)
GUILD = GuildSettings(5, (), None, True, "🌀")


@pytest.fixture
async def ledger(tmp_path):
    store = await Store.open(tmp_path / "l.sqlite3")
    yield Ledger(store, QuotaService(store, QuotaConfig(user_daily=2)), Tasks())
    await store.close()


def order(units: int = 1) -> Order:
    plan = Plan(PARAMS, ImageRef("https://cdn/in.png"))
    return Order("slash", Requester(1, 5, 100), GUILD, plan, PARAMS, units)


async def row(ledger: Ledger, job_id: str):
    return await ledger.store.get_job(job_id)


async def test_a_charged_ticket_is_done_and_costs_its_units(ledger):
    async with ledger.reserve(order(units=2), "j1") as ticket:
        assert (await row(ledger, "j1")).status == "reserved"
        await ticket.running()
        assert (await row(ledger, "j1")).status == "running"
        await ticket.charge(Delivered(queue_s=0.5, run_s=2.0, seed=7, where=(3, 4, "link")))
    done = await row(ledger, "j1")
    assert (done.status, done.cost, done.seed, done.result_url) == ("done", 2, 7, "link")


@pytest.mark.parametrize(
    ("error", "status", "why"),
    [
        (WorkerCrashed("boom"), "failed", "worker_crashed"),
        (DreamCancelled("by the user"), "cancelled", "cancelled"),
        (RuntimeError("database is locked"), "failed", "RuntimeError('database is locked')"),
    ],
)
async def test_leaving_with_an_error_refunds_and_says_why(ledger, error, status, why):
    with pytest.raises(type(error)):
        async with ledger.reserve(order(), "j1") as ticket:
            await ticket.running()
            raise error
    refunded = await row(ledger, "j1")
    assert (refunded.status, refunded.cost, refunded.error) == (status, 0, why)


async def test_leaving_without_a_charge_refunds(ledger):
    async with ledger.reserve(order(), "j1"):
        pass  # e.g. nothing could be posted, and nobody raised
    assert (await row(ledger, "j1")).status == "failed"


async def test_a_cancelled_task_refunds_its_reservation(ledger):
    entered = asyncio.Event()

    async def job():
        async with ledger.reserve(order(), "j1"):
            entered.set()
            await asyncio.Event().wait()  # waits for a worker that never comes

    task = asyncio.create_task(job())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancelled = await row(ledger, "j1")
    assert (cancelled.status, cancelled.cost, cancelled.error) == (
        "cancelled",
        0,
        "bot shutting down",
    )


async def test_a_refusal_reserves_nothing(ledger):
    for job_id in ("j1", "j2"):
        await ledger.reserve(order(), job_id)  # held: the daily limit of 2 is in flight
    with pytest.raises(QuotaExceeded):
        async with ledger.reserve(order(), "j3"):
            pytest.fail("a refused order has no ticket")
    assert await row(ledger, "j3") is None


async def test_a_ticket_settles_once(ledger):
    async with ledger.reserve(order(), "j1") as ticket:
        await ticket.charge(Delivered(queue_s=0, run_s=1))
        await ticket.refund("failed", "too late")  # the dream was delivered: it stands
    assert (await row(ledger, "j1")).status == "done"


def test_every_ledger_statement_is_the_stores():
    # issue 21: QuotaService wrote its own SQL through tx.conn
    statement = re.compile(r"(FROM|UPDATE|INTO)\s+ledger\b|\.conn\b", re.IGNORECASE)
    package = Path(bot.__file__).parent
    writers = {
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if statement.search(path.read_text(encoding="utf-8"))
    }
    assert writers == {"store.py"}
