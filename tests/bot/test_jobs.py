"""bot.jobs: the runner pumps a job's events into a progress sink, marks the ticket running when
a worker starts it, keeps it findable while it is on its way, and never leaves it behind."""

from __future__ import annotations

import asyncio

import pytest

from bot.guilds import GuildSettings
from bot.intake import HeldImage
from bot.jobs import JobRunner, Timing
from bot.order import ImageRef, Order, Plan, Requester
from dreamcore.pool.jobs import JobEvent
from dreamcore.request import DreamProgress, make_params
from tests.helpers import dream_result

PARAMS = make_params(model="tiny", max_side=64)


class Job:
    def __init__(self, events, gate: asyncio.Event | None = None) -> None:
        self._events, self._gate = events, gate
        self.state, self.position, self.finished, self.cancelled = "queued", 3, False, False

    async def events(self):
        for event in self._events:
            yield event
        if self._gate is not None:
            await self._gate.wait()

    async def result(self):
        self.finished = True
        return dream_result(seconds=2.0)

    def cancel(self):
        self.cancelled = True


class Backend:
    def __init__(self, job: Job) -> None:
        self.job, self.requests = job, []

    def submit(self, request, *, job_id=None):
        self.requests.append(request)
        return self.job

    def stats(self):
        return type("Stats", (), {"workers_alive": 1, "places": 1})()


class Sink:
    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def queued(self, position, wait_s):
        self.seen.append(("queued", position))

    def started(self):
        self.seen.append(("started",))

    def advanced(self, progress):
        self.seen.append(("advanced", progress.fraction))

    async def close(self):
        self.seen.append(("closed",))


class Ticket:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def running(self):
        self.sink.seen.append(("ticket running",))


def order() -> Order:
    image = HeldImage(b"png", b"jpg")
    plan = Plan(PARAMS, ImageRef("https://cdn/in.png"))
    guild = GuildSettings(5, (), None, True, "🌀")
    return Order("slash", Requester(1, 5, 100), guild, plan, PARAMS, image=image)


async def test_events_go_to_the_sink_and_the_ticket_runs_when_the_worker_starts():
    step = DreamProgress(octave=1, octaves=1, step=1, steps=2)
    events = [
        JobEvent("queued", "j", position=2),
        JobEvent("started", "j", position=0),
        JobEvent("progress", "j", progress=step),
        JobEvent("done", "j"),
    ]
    backend, sink, clock = Backend(Job(events)), Sink(), lambda: 10.0
    runner = JobRunner(backend, clock=clock)
    timing = Timing(accepted=9.0)
    result = await runner.run(
        order(), "j", max_bytes=5000, ticket=Ticket(sink), progress=sink, timing=timing
    )
    assert sink.seen == [("queued", 2), ("started",), ("ticket running",), ("advanced", 0.5)]
    assert backend.requests[0].output_max_bytes == 5000 and backend.requests[0].preview
    assert timing.queue_s(now=99.0) == 1.0  # accepted at 9, started at 10
    assert result.seconds == 2.0 and runner.estimates.typical(PARAMS) == 2.0
    assert runner.live == {}  # done: no longer on its way


async def test_a_job_left_early_is_found_while_on_its_way_then_cancelled_in_the_backend():
    gate = asyncio.Event()
    job = Job([JobEvent("queued", "j", position=3)], gate)
    runner, sink = JobRunner(Backend(job)), Sink()
    run = asyncio.create_task(
        runner.run(
            order(),
            "j",
            max_bytes=5000,
            ticket=Ticket(sink),
            progress=sink,
            timing=Timing(accepted=0.0),
        )
    )
    while not sink.seen:  # noqa: ASYNC110 - a test sink: a list, no event
        await asyncio.sleep(0)
    assert [live.job_id for live in runner.jobs_of(1)] == ["j"] and runner.jobs_of(2) == []
    run.cancel()  # e.g. the bot shutting down
    with pytest.raises(asyncio.CancelledError):
        await run
    assert job.cancelled and runner.live == {}  # nobody would read its result: the worker is freed
