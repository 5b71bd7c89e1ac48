"""The job flow with a scripted pool and a real quota service: charge, refund, 413 retry, throttle."""

import io

import discord
import pytest
from PIL import Image

from bot.flow import DreamFlow, DreamOrder, Requester, Throttle
from bot.quota import QuotaService
from bot.settings import QuotaConfig
from bot.store import Store
from dreamcore.errors import WorkerCrashed
from dreamcore.pool.jobs import JobEvent
from dreamcore.request import DreamProgress, DreamResult, make_params


def png(side=64) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((side, side), 64).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


class ScriptedJob:
    def __init__(self, events, outcome):
        self._events, self._outcome, self.cancelled = events, outcome, False

    async def events(self):
        for e in self._events:
            yield e

    async def result(self):
        if isinstance(self._outcome, Exception):
            raise self._outcome
        return self._outcome

    def cancel(self):
        self.cancelled = True


class ScriptedPool:
    def __init__(self, events, outcome):
        self.job, self.requests = ScriptedJob(events, outcome), []

    def submit(self, request, *, job_id=None):
        self.requests.append(request)
        return self.job


class RecordingAnswer:
    def __init__(self, upload_limit=10_000_000, refuse_first_upload=False):
        self.upload_limit, self.refuse = upload_limit, refuse_first_upload
        self.statuses, self.uploads, self.failures, self.previews = [], [], [], []

    async def status(self, text, preview=None):
        self.statuses.append(text)
        self.previews.append(preview)

    async def deliver(self, upload):
        if self.refuse:
            self.refuse = False
            raise discord.HTTPException(
                type("R", (), {"status": 413, "reason": "too large"})(), "too large"
            )
        self.uploads.append((upload.filename, upload.data))

    async def fail(self, text):
        self.failures.append(text)


@pytest.fixture
async def quota(tmp_path):
    store = await Store.open(tmp_path / "s.sqlite3")
    yield QuotaService(store, QuotaConfig(user_daily=5))
    await store.close()


def _order():
    return DreamOrder(
        Requester(1, 2, 3), png(), make_params(model="tiny", layer="relu1", max_side=64), "slash"
    )


def _result(data):
    return DreamResult(
        image=data,
        format="png",
        width=64,
        height=64,
        seed=1,
        model="tiny",
        target="relu1",
        octaves_run=1,
        seconds=0.5,
        objective_start=0,
        objective_end=1,
    )


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


async def test_success_charges_once_and_passes_the_upload_limit(quota):
    pool, answer = ScriptedPool(_events(), _result(png())), RecordingAnswer(upload_limit=500_000)
    flow = DreamFlow(pool=pool, quota=quota, progress_interval_s=0.5)
    assert await flow.run(_order(), answer) is not None
    assert pool.requests[0].output_max_bytes == 500_000
    assert answer.uploads and answer.uploads[0][0] == "dream.png"
    assert "position 2" in answer.statuses[0]
    [row] = await _rows(quota)
    assert row.status == "done" and row.cost == 1


async def test_failure_refunds_and_tells_the_job_id(quota):
    pool, answer = ScriptedPool(_events()[:2], WorkerCrashed("boom")), RecordingAnswer()
    assert (
        await DreamFlow(pool=pool, quota=quota, progress_interval_s=0.5).run(_order(), answer)
        is None
    )
    [row] = await _rows(quota)
    assert row.status == "failed" and row.cost == 0
    assert row.job_id in answer.failures[0] and "crashed" in answer.failures[0]


async def test_413_reencodes_smaller_once(quota):
    big = png(256)
    pool, answer = (
        ScriptedPool(_events(), _result(big)),
        RecordingAnswer(upload_limit=len(big), refuse_first_upload=True),
    )
    await DreamFlow(pool=pool, quota=quota, progress_interval_s=0.5).run(_order(), answer)
    [(_name, data)] = answer.uploads
    assert len(data) <= max(64 * 1024, len(big) // 2)
    assert (await _rows(quota))[0].status == "done"


def test_throttle():
    now = [0.0]
    t = Throttle(2.0, clock=lambda: now[0])
    assert t.ready() and not t.ready()
    now[0] = 2.5
    assert t.ready()


async def test_an_octave_preview_survives_throttling_and_is_shown_once(quota):
    # Steps come faster than the throttle lets edits through: the preview that arrived with a
    # skipped event rides along with the next edit that does go out, and only once.
    clock = iter([0.0, 0.1, 0.2, 1.0, 1.1, 2.0, 2.1, 3.0, 3.1, 4.0, 4.1])
    steps = [
        DreamProgress(octave=1, octaves=2, step=s, steps=3, preview=b"jpeg1" if s == 3 else None)
        for s in (1, 2, 3)
    ]
    steps += [DreamProgress(octave=2, octaves=2, step=1, steps=3)]
    events = [JobEvent("started", "j", position=0)] + [
        JobEvent("progress", "j", progress=p) for p in steps
    ]
    pool, answer = ScriptedPool(events + [JobEvent("done", "j")], _result(png())), RecordingAnswer()
    flow = DreamFlow(pool=pool, quota=quota, progress_interval_s=0.5, clock=lambda: next(clock))
    await flow.run(_order(), answer)
    assert pool.requests[0].preview is True
    assert [p for p in answer.previews if p] == [b"jpeg1"]
