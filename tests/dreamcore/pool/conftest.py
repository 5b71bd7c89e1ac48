from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.pool import LocalPool
from dreamcore.request import DreamRequest
from tests.dreamcore.pool.handlers import script

HANDLERS = "tests.dreamcore.pool.handlers:"
ENGINE = EngineConfig(device="cpu")


def pool_config(**overrides: object) -> PoolConfig:
    values: dict[str, object] = dict(
        workers=1,
        queue_size=32,
        job_timeout_s=20.0,
        cancel_grace_s=0.5,
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


MakePool = Callable[..., Awaitable[LocalPool]]


@pytest.fixture
async def make_pool() -> AsyncIterator[MakePool]:
    pools: list[LocalPool] = []

    async def make(handler: str = "SleepyHandler", **overrides: object) -> LocalPool:
        pool = LocalPool(pool_config(**overrides), ENGINE, HANDLERS + handler)
        pools.append(pool)
        await pool.start()
        return pool

    yield make
    for pool in pools:
        pids = pool.worker_pids()
        await pool.close(timeout=1.0)
        assert all(pid_gone(pid) for pid in pids), f"workers left behind: {pids}"
