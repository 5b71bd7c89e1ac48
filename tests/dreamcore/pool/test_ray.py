"""What only the Ray backend has: GPU actors as in production, actors coming back after a kill, the
cluster growing and shrinking under a running pool, a cluster started separately, and a Ray of
its own started and shut down cleanly. The contract shared with LocalPool is tested on both
backends in test_jobs / test_failures / test_lifecycle, and a worker holding several dreams in
test_batching."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from dreamcore.config import EngineConfig
from dreamcore.errors import WorkerCrashed
from dreamcore.pool import Job, make_backend
from dreamcore.pool.pool import WorkerPool
from dreamcore.pool.worker import GPU_DREAMS_PER_WORKER
from tests.dreamcore.pool.conftest import (
    HANDLERS,
    MakePool,
    all_gone,
    held,
    pid_gone,
    pool_config,
    request,
    wait_until,
)
from tests.dreamcore.pool.raycluster import ROOT, subprocess_env
from tests.gates import Gate

pytest.importorskip("ray", reason="the Ray backend needs `pip install dreambot[ray]`")

AUTO = EngineConfig(device="auto")  # on the test cluster's fake GPUs: GPU actors, torch-free


@pytest.fixture
async def gpu_pool(ray_cluster: Any) -> AsyncIterator[WorkerPool]:
    """`workers = "auto"` on a cluster with GPUs: one num_gpus=1 actor per GPU."""
    pool = make_backend(pool_config(backend="ray", workers="auto"), AUTO, HANDLERS + "WhereHandler")
    assert isinstance(pool, WorkerPool)
    await pool.start()
    yield pool
    pids = pool.worker_pids()
    await pool.close(timeout=1.0)
    await all_gone(pids)


async def progressed(job: Job) -> None:
    async for event in job.events():
        if event.kind == "progress":
            return
    raise AssertionError(f"{job} ended without progress")


async def test_one_actor_per_gpu_each_pinned_to_its_own(gpu_pool: Any, hold: Gate) -> None:
    assert gpu_pool.stats().workers_total == 2
    # each holds a GPU's batch of dreams, as a local GPU worker does
    assert gpu_pool.stats().places == 2 * GPU_DREAMS_PER_WORKER
    jobs = [gpu_pool.submit(held(hold, i=i)) for i in range(2)]
    await asyncio.gather(*(progressed(job) for job in jobs))
    assert len({job.worker_pid for job in jobs}) == 2  # both at once, the least loaded first
    (node,) = gpu_pool.nodes().values()
    assert node == {"alive": 2, "busy": 2}
    hold.release(2)
    notes = sorted(r.notes for r in await asyncio.gather(*(job.result() for job in jobs)))
    # Ray gives each actor one GPU; "auto" lets the engine pick it (CUDA if torch sees one)
    assert [n[0] for n in notes] == ["device=auto", "device=auto"]
    assert [n[-1] for n in notes] == ["gpu=0", "gpu=1"]


async def test_an_actor_killed_while_idle_comes_back_and_no_job_is_lost(
    make_ray_pool: MakePool,
) -> None:
    pool = await make_ray_pool(workers=2)
    victim = pool.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    # Ray has not noticed yet: a job handed to the dead actor goes back to the queue, unharmed.
    jobs = [pool.submit(request(i=i, steps=1)) for i in range(4)]
    results = await asyncio.gather(*(job.result() for job in jobs))
    assert victim not in {r.seed for r in results}
    await wait_until(lambda: pool.stats().workers_alive == 2, "the killed actor to come back")
    stats = pool.stats()
    assert (stats.jobs_done, stats.jobs_failed, stats.worker_restarts) == (4, 0, 1)
    assert victim not in pool.worker_pids() and pid_gone(victim)


async def test_a_node_joining_adds_actors_and_one_leaving_takes_them_away(
    ray_cluster: Any, gpu_pool: Any, hold: Gate
) -> None:
    node = ray_cluster.add_node(num_cpus=2, num_gpus=2)
    try:
        await wait_until(lambda: gpu_pool.stats().workers_alive == 4, "actors on the new node")
        assert gpu_pool.stats().workers_total == 4 and len(gpu_pool.nodes()) == 2
        jobs = [gpu_pool.submit(held(hold, i=i)) for i in range(4)]
        await asyncio.gather(*(progressed(job) for job in jobs))  # 4 at once: both machines work
        assert {row["busy"] for row in gpu_pool.nodes().values()} == {2}
    finally:
        ray_cluster.remove_node(node)
    await wait_until(lambda: sum(job.finished for job in jobs) == 2, "the leaving node's jobs")
    crashed = [job for job in jobs if job.finished]
    for job in crashed:
        with pytest.raises(WorkerCrashed):
            await job.result()
    await wait_until(lambda: gpu_pool.stats().workers_total == 2, "the surplus actors retired")
    hold.release(2)
    survivors = [job for job in jobs if job not in crashed]
    await asyncio.gather(*(job.result() for job in survivors))
    assert (await gpu_pool.submit(request(i=9)).result()).image
    stats = gpu_pool.stats()
    assert (stats.workers_alive, stats.jobs_done, stats.jobs_failed) == (2, 3, 2)


# --- separate Ray clusters, driven from child processes (this one is joined to the session's) ---

DRIVER = """
import asyncio, json, os, sys
from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.pool import make_backend
from dreamcore.request import DreamRequest
from tests.dreamcore.pool.handlers import script

async def main(address):
    config = PoolConfig(backend="ray", ray_address=address, warm_models=("tiny",))
    pool = make_backend(config, EngineConfig(device="auto"), "tests.dreamcore.pool.handlers:{h}")
    async with pool:
        result = await pool.submit(DreamRequest(image=script(steps=2))).result()
        report = dict(stats=pool.stats().__dict__, pids=pool.worker_pids(), notes=result.notes)
    import ray
    report.update(torch="torch" in sys.modules, connected=ray.is_initialized())
    print(json.dumps(report), flush=True)

asyncio.run(main(sys.argv[1]))
"""


def drive(address: str, env: dict[str, str], handler: str = "WhereHandler") -> dict[str, Any]:
    code = DRIVER.replace("{h}", handler)
    out = subprocess.run(
        [sys.executable, "-c", code, address],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def ray_processes(tmp: str) -> list[int]:
    """Processes started for the Ray whose files live in `tmp` (gcs_server, raylet, ...)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and not pid_gone(int(entry.name)):
            try:
                if tmp.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


@pytest.fixture
def own_tmp() -> Iterator[str]:
    tmp = tempfile.mkdtemp(prefix="dbray")
    (Path(tmp) / "ray").mkdir()
    yield tmp
    leftovers = ray_processes(tmp)
    for pid in leftovers:  # only ours: they name our temp dir
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(tmp, ignore_errors=True)
    assert not leftovers, f"Ray processes left behind: {leftovers}"


def test_joins_a_cluster_started_separately(own_tmp: str) -> None:
    env = subprocess_env(own_tmp)
    ray_cli = Path(sys.executable).with_name("ray")
    head = subprocess.Popen(
        [
            str(ray_cli),
            "start",
            "--head",
            "--block",
            "--port=0",
            "--num-cpus=1",
            "--num-gpus=1",
            f"--temp-dir={own_tmp}/ray",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        address_file = Path(own_tmp) / "ray" / "ray_current_cluster"
        deadline = time.monotonic() + 120
        while not address_file.exists() or not address_file.read_text().strip():
            assert head.poll() is None and time.monotonic() < deadline, "ray start failed"
            time.sleep(0.1)
        address = address_file.read_text().strip()
        report = drive(address, env)
        assert report["stats"]["jobs_done"] == 1 and report["stats"]["workers_total"] == 1
        assert report["notes"][-1] == "gpu=0"  # the head's one (declared) GPU, num_gpus=1
        assert report["connected"] is False  # close() disconnected what start() connected
        assert report["torch"] is False  # the bot's process never imports torch, Ray or not
    finally:
        head.send_signal(
            signal.SIGTERM
        )  # `ray start --block` stops its own processes; never `ray stop`
        head.wait(timeout=60)
    assert all(pid_gone(pid) for pid in report["pids"])


def test_starts_a_ray_of_its_own_and_shuts_it_down(own_tmp: str) -> None:
    report = drive("", subprocess_env(own_tmp), "SleepyHandler")
    assert list((Path(own_tmp) / "ray").glob("session_*"))  # it was this Ray, in our temp dir
    assert report["stats"]["jobs_done"] == 1 and report["stats"]["workers_total"] == 1
    assert report["connected"] is False and report["torch"] is False
    assert all(pid_gone(pid) for pid in report["pids"])
    assert ray_processes(own_tmp) == []  # gcs_server, raylet, ...: shut down with the pool
