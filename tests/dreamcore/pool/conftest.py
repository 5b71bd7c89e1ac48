"""Pool fixtures. The contract tests take `make_pool`, which runs them once per backend: `local`
(worker processes) and `ray` (actors on the session's local Ray cluster, see raycluster.py), so
the two backends cannot drift apart. `pytest -k ray` runs the Ray half."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.pool import make_backend
from dreamcore.pool.pool import WorkerPool
from dreamcore.request import DreamRequest
from tests.dreamcore.pool.handlers import script
from tests.dreamcore.pool.raycluster import LOOPBACK_ONLY
from tests.gates import Gate

# Ray reads this once, when first imported (so here, before any test module): the tests' Ray
# clusters live on 127.0.0.1, not on this machine's network address (one machine needs no more,
# and nothing of theirs is reachable from outside).
os.environ.setdefault(LOOPBACK_ONLY, "0")

HANDLERS = "tests.dreamcore.pool.handlers:"
ENGINE = EngineConfig(device="cpu")
BACKENDS = ("local", "ray")


def pool_config(**overrides: object) -> PoolConfig:
    values: dict[str, object] = dict(
        workers=1,
        queue_size=32,
        job_timeout_s=20.0,
        cancel_grace_s=10.0,  # a handler that honours cancel stops long before; stubborn: 0.3
        shutdown_timeout_s=5.0,
        start_timeout_s=60.0,
        warm_models=("tiny",),
    )
    return PoolConfig(**{**values, **overrides})


def request(**values: object) -> DreamRequest:
    return DreamRequest(image=script(**values))


def pid_gone(pid: int) -> bool:
    """Gone, or a zombie nobody has reaped yet (it runs nothing)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return "\nState:\tZ" in status


async def wait_until(condition: Callable[[], bool], what: str, limit: float = 30.0) -> None:
    """Wait for something the test cannot be told about directly (a process reaped, a cluster
    change noticed). `limit` only turns a hang into a failure; nothing is timed."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for: {what}")
        await asyncio.sleep(0.02)


async def all_gone(pids: list[int]) -> None:
    # A local worker is reaped by close(); Ray reaps a killed actor's process a moment later.
    await wait_until(lambda: all(pid_gone(pid) for pid in pids), f"workers {pids} to exit")


def cores(backend: str) -> int:
    """The CPUs a backend shares among its CPU workers (this machine, or the biggest Ray node)."""
    if backend == "local":
        return os.cpu_count() or 1
    import ray

    return int(max(n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    return request.param


def new_pool(backend: str, handler: str = "SleepyHandler", **overrides: object) -> WorkerPool:
    pool = make_backend(pool_config(backend=backend, **overrides), ENGINE, HANDLERS + handler)
    assert isinstance(pool, WorkerPool)
    return pool


MakePool = Callable[..., Awaitable[WorkerPool]]


@contextlib.asynccontextmanager
async def pools_of(backend: str) -> AsyncIterator[MakePool]:
    """make(handler, **config) starts a pool; all are closed, their workers gone, at the end."""
    pools: list[WorkerPool] = []

    async def make(handler: str = "SleepyHandler", **overrides: object) -> WorkerPool:
        pool = new_pool(backend, handler, **overrides)
        pools.append(pool)
        await pool.start()
        return pool

    try:
        yield make
    finally:
        for pool in pools:
            pids = pool.worker_pids()
            await pool.close(timeout=1.0)
            await all_gone(pids)


@pytest.fixture
async def make_pool(backend: str) -> AsyncIterator[MakePool]:
    async with pools_of(backend) as make:
        yield make


@pytest.fixture
async def make_local_pool() -> AsyncIterator[MakePool]:
    """For what only LocalPool has (process exit codes, the Supervisor's restart backoff)."""
    async with pools_of("local") as make:
        yield make


@pytest.fixture
async def make_ray_pool(ray_cluster: Any) -> AsyncIterator[MakePool]:
    async with pools_of("ray") as make:
        yield make


@pytest.fixture
def hold(tmp_path: Path) -> Iterator[Gate]:
    """A gate that jobs wait at after their first progress (`held(hold)`); hold.release(n)."""
    (tmp_path / "hold").mkdir()
    gate = Gate(tmp_path / "hold")
    yield gate
    gate.close()


def held(hold: Gate, **values: object) -> DreamRequest:
    """A job that, after its first progress, waits until the test releases it (or forever)."""
    return request(hold=str(hold.path), **values)
