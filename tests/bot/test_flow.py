"""The job flow with a scripted backend and a real ledger: charge, refund, 413 retry,
progress throttling, and what happens when Discord or the database misbehave mid-job."""

import asyncio
import io

import aiohttp
import discord
import pytest
from PIL import Image

from bot import ledger as ledger_mod
from bot.buttons import gallery_view
from bot.flow import DreamFlow
from bot.guilds import GuildSettings
from bot.intake import ByteBudget, HeldImage
from bot.jobs import JobRunner
from bot.ledger import Ledger, Ticket
from bot.metrics import BotMetrics
from bot.order import ImageRef, Order, Plan, Requester
from bot.progress import StatusLine
from bot.publisher import OnePublisher
from bot.quota import QuotaService
from bot.settings import QuotaConfig
from bot.store import Store, Tx
from bot.tasks import Tasks
from dreamcore.errors import WorkerCrashed
from dreamcore.pool.jobs import JobEvent
from dreamcore.request import DreamProgress, make_params
from tests.helpers import dream_result


def png(side=64) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((side, side), 64).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


class ScriptedJob:
    def __init__(self, events, outcome, gate: asyncio.Event | None = None):
        self._events, self._outcome, self._gate = events, outcome, gate
        self.cancelled = self.finished = False
        self.state, self.position = "queued", None

    async def events(self):
        for e in self._events:
            self.state = {"queued": "queued", "started": "running"}.get(e.kind, self.state)
            self.position = e.position
            yield e
        if self._gate is not None:
            await self._gate.wait()

    async def result(self):
        self.finished = True
        if isinstance(self._outcome, Exception):
            raise self._outcome
        return self._outcome

    def cancel(self):
        self.cancelled = True


class ScriptedBackend:
    def __init__(self, events, outcome, gate=None):
        self.job, self.requests = ScriptedJob(events, outcome, gate), []

    def stats(self):
        return type("Stats", (), {"workers_alive": 1, "places": 1})()

    def submit(self, request, *, job_id=None):
        self.requests.append(request)
        return self.job


class RecordingAnswer:
    def __init__(self, upload_limit=10_000_000, refuse_first_upload=False, status_error=None):
        self.upload_limit, self.refuse, self.status_error = (
            upload_limit,
            refuse_first_upload,
            status_error,
        )
        self.statuses, self.uploads, self.failures, self.previews = [], [], [], []
        self.hidden_previews, self.delivered = [], []
        self.changed = asyncio.Event()

    async def status(self, text, preview=None, view=None, spoiler=False):
        self.statuses.append(text)
        self.previews.append(preview)
        self.hidden_previews.append(spoiler)
        self.changed.set()
        if self.status_error is not None:
            raise self.status_error

    async def deliver(self, upload):
        if self.refuse:
            self.refuse = False
            raise discord.HTTPException(
                type("R", (), {"status": 413, "reason": "too large"})(), "too large"
            )
        self.uploads.append((upload.filename, upload.data, dict(upload.extras).get("source.jpg")))
        self.delivered.append(upload)

    async def fail(self, text):
        self.failures.append(text)


class LimitedAnswer(RecordingAnswer):
    """Refuses (413) an answer whose files together pass the limit, as Discord does."""

    def __init__(self, upload_limit, real_limit=None):
        super().__init__(upload_limit)
        self.real_limit, self.refused = real_limit or upload_limit, []

    async def deliver(self, upload):
        size = len(upload.data) + sum(len(d) for _, d in upload.extras)
        if size > self.real_limit:
            self.refused.append([upload.filename, *(n for n, _ in upload.extras)])
            raise discord.HTTPException(type("R", (), {"status": 413, "reason": "big"})(), "big")
        await super().deliver(upload)


@pytest.fixture
async def quota(tmp_path):
    store = await Store.open(tmp_path / "s.sqlite3")
    yield QuotaService(store, QuotaConfig(user_daily=5))
    await store.close()


class Flow:
    """A DreamFlow with its ledger and runner; `run` answers through a publisher of `answer`."""

    def __init__(self, backend, quota, interval) -> None:
        self.tasks = Tasks()
        self.flow = DreamFlow(
            inputs=None,  # its orders come with their images
            runner=JobRunner(backend),
            ledger=Ledger(quota.store, quota, self.tasks),
            tasks=self.tasks,
            metrics=BotMetrics(),
            progress_interval_s=interval,
            buttons=lambda _uid, still=True: discord.ui.View(timeout=None),
        )
        self.interval = interval

    async def run(self, order, answer):
        publisher = OnePublisher(
            answer,
            buttons=lambda _uid, still=True: discord.ui.View(timeout=None),
            interval=self.interval,
        )
        return await self.flow.run(order, publisher)

    async def drain(self, timeout):
        await self.tasks.drain(timeout)


def make_flow(backend, quota, **kw) -> Flow:
    return Flow(backend, quota, kw.pop("interval", 0.5))


GUILD = GuildSettings(2, (), None, True, "🌀")


def _order(budget: ByteBudget | None = None, source=b"source-jpeg", spoiler=False):
    image = HeldImage(png(), source)
    if budget is not None:
        image.count_against(budget)
    params = make_params(model="tiny", layer="relu1", max_side=64)
    plan = Plan(params, ImageRef("https://cdn/in.png"))
    return Order("slash", Requester(1, 2, 3), GUILD, plan, params, spoiler=spoiler, image=image)


def noise(side, fmt, **options) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((side, side), 40).convert("RGB").save(buf, fmt, **options)
    return buf.getvalue()


def _result(data):
    return dream_result(image=data)


def _events():
    p = DreamProgress(octave=1, octaves=1, step=1, steps=2)
    return [
        JobEvent("queued", "j", position=2),
        JobEvent("started", "j", position=0),
        JobEvent("progress", "j", progress=p),
        JobEvent("done", "j"),
    ]


async def _rows(quota):
    return await quota.store.jobs()


async def test_success_charges_once_and_sends_the_dream_with_its_source(quota):
    budget = ByteBudget(10**9)
    backend, answer = ScriptedBackend(_events(), _result(png())), RecordingAnswer(500_000)
    order = _order(budget)
    assert await make_flow(backend, quota).run(order, answer) is not None
    # the source image travels with the dream, so the dream gets the rest of the upload limit
    assert backend.requests[0].output_max_bytes == 500_000 - len(b"source-jpeg")
    [(name, _data, source)] = answer.uploads
    assert name == "dream.png" and source == b"source-jpeg"
    [row] = await _rows(quota)
    assert row.status == "done" and row.cost == 1
    assert budget.held == 0  # the order's image bytes were given back


async def test_failure_refunds_and_tells_the_job_id(quota):
    backend, answer = ScriptedBackend(_events()[:2], WorkerCrashed("boom")), RecordingAnswer()
    assert await make_flow(backend, quota).run(_order(), answer) is None
    [row] = await _rows(quota)
    assert row.status == "failed" and row.cost == 0
    assert row.job_id in answer.failures[0] and "crashed" in answer.failures[0]


async def test_413_reencodes_smaller_once(quota):
    big = png(256)
    backend = ScriptedBackend(_events(), _result(big))
    answer = RecordingAnswer(upload_limit=len(big), refuse_first_upload=True)
    await make_flow(backend, quota).run(_order(), answer)
    [(_name, data, _source)] = answer.uploads
    assert len(data) <= max(64 * 1024, len(big) // 2)
    assert (await _rows(quota))[0].status == "done"


async def test_a_source_larger_than_the_limit_is_shrunk_and_the_dream_delivered(quota):
    # Issue 19 #5: a 150 kB limit and a ~220 kB source.jpg: the dream was squeezed to 8 kB,
    # the answer still refused (413), re-encoded "below -234725 bytes" and lost.
    source = noise(520, "JPEG", quality=95)
    dream = noise(300, "WEBP", quality=80)  # what the worker made within its budget
    backend = ScriptedBackend(_events(), _result(dream))
    answer = LimitedAnswer(150_000)
    assert await make_flow(backend, quota).run(_order(source=source), answer) is not None
    assert backend.requests[0].output_max_bytes == 150_000 - 150_000 // 4
    [upload] = answer.delivered
    assert not answer.refused and not answer.failures  # planned to fit: no 413 at all
    assert upload.data == dream and len(dream) + sum(len(d) for _, d in upload.extras) <= 150_000
    [(name, _)] = upload.extras
    assert name.startswith("source.") and upload.embed.thumbnail.url == f"attachment://{name}"
    [row] = await _rows(quota)
    assert row.status == "done" and row.cost == 1


async def test_a_spoilered_order_hides_every_file_it_sends_a_413_retry_included(quota):
    # Issue 19 #4: the re-encode after a 413 renamed the dream `dream.webp`, unblurred.
    preview = DreamProgress(octave=1, octaves=2, step=2, steps=2, preview=b"jpeg1")
    events = [*_events()[:2], JobEvent("progress", "j", progress=preview)]
    big, gate = noise(256, "PNG"), asyncio.Event()
    backend = ScriptedBackend(events, _result(big), gate)  # waits after the preview
    answer = LimitedAnswer(10_000_000, real_limit=len(big) // 2)  # lower than we were told
    flow = make_flow(backend, quota, interval=0.05)
    run = asyncio.create_task(flow.run(_order(spoiler=True), answer))
    while b"jpeg1" not in answer.previews:
        answer.changed.clear()
        await asyncio.wait_for(answer.changed.wait(), 10)
    gate.set()
    await run
    assert answer.refused and all(n.startswith("SPOILER_") for n in answer.refused[0])
    [upload] = answer.delivered
    names = [upload.filename, *(n for n, _ in upload.extras)]
    assert all(n.startswith("SPOILER_") for n in names), names
    assert not upload.embed.image.url and not upload.embed.thumbnail.url
    pairs = zip(answer.hidden_previews, answer.previews, strict=True)
    shown = [hidden for hidden, p in pairs if p]
    assert shown and all(shown)  # the preview under the progress bar is hidden too
    assert (await _rows(quota))[0].status == "done"


async def test_status_line_shows_the_newest_update_once_the_interval_is_over():
    answer = RecordingAnswer()
    line = StatusLine(answer, interval=0.05)
    line.show("first")
    line.show("second", b"preview")  # too soon after... nothing sent yet, or "first" only
    line.show("third")  # newer text; the unsent preview rides along with it
    while "third" not in answer.statuses:
        answer.changed.clear()
        await asyncio.wait_for(answer.changed.wait(), 10)
    assert answer.previews[answer.statuses.index("third")] == b"preview"
    assert "second" not in answer.statuses  # superseded before it was due
    await line.close()


async def test_progress_edit_transport_errors_are_skipped_not_fatal(quota):
    # Issue 9 #2: a connection reset while editing progress must not fail the dream.
    reset = aiohttp.ClientOSError(104, "Connection reset by peer")
    backend = ScriptedBackend(_events(), _result(png()))
    answer = RecordingAnswer(status_error=reset)
    assert await make_flow(backend, quota).run(_order(), answer) is not None
    assert answer.uploads and not answer.failures
    assert (await _rows(quota))[0].status == "done"


async def test_any_error_on_the_way_cancels_the_job_in_the_backend(quota, monkeypatch):
    # Issue 9 #2: the flow gives up (here: the database fails while the job starts); the job
    # must not keep its worker busy for nobody.
    async def broken(ticket):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(Ticket, "running", broken)
    backend, answer = ScriptedBackend(_events(), _result(png())), RecordingAnswer()
    assert await make_flow(backend, quota).run(_order(), answer) is None
    assert backend.job.cancelled
    [row] = await _rows(quota)
    assert row.status == "failed" and row.cost == 0


async def test_a_failed_charge_never_takes_a_delivered_dream_back(quota, monkeypatch):
    # Issue 9 #3: the upload went through, then the database refused the charge.
    real_charge, calls = Tx.charge_job, []

    def flaky(tx, job_id, **kw):
        calls.append(job_id)
        if len(calls) == 1:
            raise RuntimeError("disk I/O error")
        return real_charge(tx, job_id, **kw)

    monkeypatch.setattr(Tx, "charge_job", flaky)
    monkeypatch.setattr(ledger_mod, "CHARGE_RETRIES_S", (0,))
    backend, answer = ScriptedBackend(_events(), _result(png())), RecordingAnswer()
    flow = make_flow(backend, quota)
    assert await flow.run(_order(), answer) is not None
    assert answer.uploads and answer.failures == []  # the dream stays, nobody is told it failed
    await flow.drain(10)  # the retry is one of the flow's tasks
    [row] = await _rows(quota)
    assert row.status == "done" and row.cost == 1 and len(calls) == 2


async def test_an_octave_preview_is_shown_even_when_the_job_then_goes_quiet(quota):
    # The end-of-octave progress carries a preview; the job then pauses (the gate). The preview
    # must still appear within the interval, not wait for the next event.
    gate = asyncio.Event()
    p = DreamProgress(octave=1, octaves=2, step=3, steps=3, preview=b"jpeg1")
    events = [JobEvent("started", "j", position=0), JobEvent("progress", "j", progress=p)]
    backend, answer = ScriptedBackend(events, _result(png()), gate), RecordingAnswer()
    run = asyncio.create_task(make_flow(backend, quota, interval=0.05).run(_order(), answer))
    while b"jpeg1" not in answer.previews:
        answer.changed.clear()
        await asyncio.wait_for(answer.changed.wait(), 10)
    assert backend.requests[0].preview is True
    gate.set()
    assert await run is not None


# --- variants: one download, every job submitted at once ----------------------------------------


class GatedBackend:
    """A job per submission, each finishing only once `gate` opens: what was submitted while
    it was shut is what went in together."""

    def __init__(self, gate: asyncio.Event, expect: int = 0) -> None:
        self.gate, self.requests, self.jobs = gate, [], []
        self.expect, self.all_in = expect, asyncio.Event()  # set once `expect` were submitted

    def stats(self):
        return type("Stats", (), {"workers_alive": 1, "places": 4})()

    def submit(self, request, *, job_id=None):
        self.requests.append(request)
        events = [JobEvent("started", job_id, position=0)]
        job = ScriptedJob(events, _result(png()), self.gate)
        self.jobs.append(job)
        if len(self.requests) == self.expect:
            self.all_in.set()
        return job


class SharedInputs:
    """Inputs that count downloads: every order gets the same held image."""

    def __init__(self, budget: ByteBudget) -> None:
        self.budget, self.downloads = budget, 0

    async def fetch_shared(self, orders):
        self.downloads += 1
        image = HeldImage(png(), b"source-jpeg")
        image.count_against(self.budget)
        image.shared_by(len(orders))
        return [o.fetched(image, None, o.params, 1) for o in orders]


def _variants(n: int) -> list[Order]:
    params = make_params(model="tiny", layer="relu1", max_side=64)
    plans = Plan(params, ImageRef("https://cdn/in.png")).variants(n)
    return [
        Order("slash", Requester(1, 2, 3), GUILD, plan, plan.params, part=i, parts=n)
        for i, plan in enumerate(plans)
    ]


def _variant_flow(backend, quota, inputs) -> DreamFlow:
    tasks = Tasks()
    return DreamFlow(
        inputs=inputs,
        runner=JobRunner(backend),
        ledger=Ledger(quota.store, quota, tasks),
        tasks=tasks,
        metrics=BotMetrics(),
        progress_interval_s=0.05,
        buttons=lambda *a, **k: None,
        gallery=gallery_view,
    )


async def test_variants_are_fetched_once_and_submitted_together(quota):
    gate, budget = asyncio.Event(), ByteBudget(10**9)
    backend, inputs, answer = GatedBackend(gate, 3), SharedInputs(budget), RecordingAnswer()
    flow = _variant_flow(backend, quota, inputs)
    task = flow.start(_variants(3), answer)
    # each arrives while the others still wait at the gate: one after another's end never would
    await asyncio.wait_for(backend.all_in.wait(), 10)
    assert inputs.downloads == 1
    assert {r.image for r in backend.requests} == {backend.requests[0].image}
    assert budget.held > 0  # the image is held while its variants run ...
    gate.set()
    await asyncio.wait_for(task, 10)
    assert budget.held == 0  # ... and given back once, when the last of them ends
    [reply] = answer.delivered
    assert reply.is_layout and [f.filename for f in reply.files()][:3] == [
        "dream-1.png",
        "dream-2.png",
        "dream-3.png",
    ]
    rows = await _rows(quota)
    assert len(rows) == 3 and all(r.status == "done" and r.cost == 1 for r in rows)


async def test_when_the_first_variant_is_refused_every_variant_is(quota):
    # another dream of hers is in flight and she may have one at a time: the first variant is
    # held to that limit (the others follow it), so none of them may start
    quota = QuotaService(quota.store, QuotaConfig(user_daily=10, user_concurrent=1))
    busy = _order()
    await Ledger(quota.store, quota, Tasks()).reserve(busy, "aaaaaaaaaaaa")
    gate, budget = asyncio.Event(), ByteBudget(10**9)
    backend, answer = GatedBackend(gate), RecordingAnswer()
    flow = _variant_flow(backend, quota, SharedInputs(budget))
    await asyncio.wait_for(flow.start(_variants(2), answer), 10)
    assert backend.requests == [] and budget.held == 0
    [told] = answer.failures
    assert told.count("Variant") == 2  # each said, in the one reply
    assert [r.job_id for r in await _rows(quota)] == ["aaaaaaaaaaaa"]
