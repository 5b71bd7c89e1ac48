"""Start, shutdown, orphans, device planning, and the parent never importing torch.

Start and shutdown run on both backends (`backend`); the rest is LocalPool's own."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.errors import DreamError, PoolClosed, WeightsUnavailable
from dreamcore.pool import devices
from tests.dreamcore.pool.conftest import (
    all_gone,
    held,
    new_pool,
    pid_gone,
    request,
)
from tests.gates import Gate

ROOT = Path(__file__).resolve().parents[3]


async def test_close_finishes_running_answers_queued_and_leaves_no_process(
    backend: str, hold: Gate
) -> None:
    pool = new_pool(backend)
    await pool.start()
    pids = pool.worker_pids()
    running = pool.submit(held(hold))
    queued = [pool.submit(request(i=i)) for i in range(3)]
    async for event in running.events():
        if event.kind == "progress":
            break
    closing = asyncio.ensure_future(pool.close(timeout=30))
    await asyncio.sleep(0)  # close() has begun: the queue is answered, the running job waits
    for job in queued:
        with pytest.raises(PoolClosed):
            await job.result()
    with pytest.raises(PoolClosed):
        pool.submit(request())
    assert not running.finished
    hold.release()
    await closing
    assert (await running.result()).image  # drained, not cut
    await all_gone(pids)
    assert pool.worker_pids() == []
    with pytest.raises(PoolClosed):
        pool.submit(request())
    await pool.close()  # idempotent


async def test_close_deadline_cuts_a_job_that_will_not_stop(backend: str, hold: Gate) -> None:
    pool = new_pool(backend, "StubbornHandler", cancel_grace_s=0.3)
    await pool.start()
    pids = pool.worker_pids()
    job = pool.submit(held(hold))  # never released: runs until killed
    await pool.close(timeout=0.2)
    with pytest.raises(PoolClosed):
        await job.result()
    await all_gone(pids)


@pytest.mark.parametrize(
    ("handler", "error", "match"),
    [
        ("BrokenWarmHandler", WeightsUnavailable, "weights"),
        ("CrashOnImportHandler", DreamError, "misconfigured"),
        ("NoSuchHandler", DreamError, "could not start"),
    ],
)
async def test_start_failure_is_raised_not_retried_forever(
    handler: str, error: type, match: str, backend: str
) -> None:
    pool = new_pool(backend, handler, workers=2)
    with pytest.raises(error, match=match):
        await pool.start()
    assert pool.worker_pids() == []
    await asyncio.sleep(0.7)  # past the first backoff: nothing was restarted
    assert pool.worker_pids() == [] and pool.stats().worker_restarts == 0
    with pytest.raises(PoolClosed):
        pool.submit(request())


async def test_auto_plans_one_worker_per_gpu_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    async def two_gpus(timeout: float = 0) -> int:
        return 2

    auto = EngineConfig(device="auto")
    assert (
        await devices.plan_devices(PoolConfig(cpu_workers=3), EngineConfig(device="cpu"))
        == ["cpu"] * 3
    )
    monkeypatch.setattr(devices, "probe_cuda_devices", two_gpus)
    assert await devices.plan_devices(PoolConfig(), auto) == ["cuda:0", "cuda:1"]
    assert await devices.plan_devices(PoolConfig(workers=3), auto) == ["cuda:0", "cuda:1", "cuda:0"]
    assert await devices.plan_devices(PoolConfig(), EngineConfig(device="cuda:1")) == ["cuda:1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert devices.nvidia_driver_present() is False
    monkeypatch.undo()
    if not devices.nvidia_driver_present():  # this machine: no driver, so no probe is run at all
        assert await devices.plan_devices(PoolConfig(cpu_workers=2), auto) == ["cpu", "cpu"]
        with pytest.raises(DreamError, match="no CUDA device"):
            await devices.plan_devices(PoolConfig(), EngineConfig(device="cuda"))


PRELUDE = """
import asyncio, json, os, sys
from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.pool import LocalPool
from dreamcore.request import DreamRequest
from tests.dreamcore.pool.handlers import script
CONFIG = PoolConfig(workers=1, warm_models=("tiny",), start_timeout_s=60)
H = "tests.dreamcore.pool.handlers:SleepyHandler"
"""


def run_script(body: str, timeout: float = 60) -> dict:
    code = PRELUDE + textwrap.dedent(body)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_parent_never_imports_torch() -> None:
    report = run_script("""
    async def main():
        async with LocalPool(CONFIG, EngineConfig(device="auto"), H) as pool:
            await pool.submit(DreamRequest(image=script(steps=2))).result()
            stats = pool.stats()
        print(json.dumps({"torch": "torch" in sys.modules, "done": stats.jobs_done}))
    asyncio.run(main())
    """)
    assert report == {"torch": False, "done": 1}


@pytest.mark.parametrize("ending", ["os._exit(0)", "return"])
def test_workers_exit_when_the_parent_ends_without_closing(ending: str) -> None:
    # os._exit: no atexit, the pipes' EOF is the only signal; return: the atexit safety net.
    report = run_script(
        f"""
    async def main():
        pool = LocalPool(CONFIG.model_copy(update={{"workers": 2}}), EngineConfig(device="cpu"), H)
        await pool.start()
        pool.submit(DreamRequest(image=script(steps=400, sleep=0.02)))
        await asyncio.sleep(0.2)
        print(json.dumps({{"pids": pool.worker_pids()}}), flush=True)
        {ending}
    if __name__ == "__main__":
        asyncio.run(main())
    """,
        timeout=30,
    )
    pids = report["pids"]
    assert len(pids) == 2
    deadline = time.monotonic() + 5
    while not all(pid_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(pid_gone(pid) for pid in pids)
