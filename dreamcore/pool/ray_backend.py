"""RayBackend: the same queue, positions, timeouts and cancels as LocalPool (WorkerPool), fed to
dream actors on a Ray cluster (ray_fleet) instead of local processes. Install `dreambot[ray]`.

`pool.ray_address`: "" starts a Ray of its own on this machine (shut down on close); "auto" joins
the one `ray start` runs here; "host:port" joins a cluster's head. A process already connected to
Ray (its host called ray.init) is used as it is.
"""

from __future__ import annotations

import asyncio
import os

import ray

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.errors import DreamError
from dreamcore.pool.pool import WorkerPool
from dreamcore.pool.ray_fleet import Actor, ActorFleet

AUTH_HINT = (
    "A cluster with token authentication (Ray's default) needs RAY_AUTH_MODE=token and its token "
    "(RAY_AUTH_TOKEN, or the file ~/.ray/auth_token) in the bot's environment."
)


class RayBackend(WorkerPool[Actor]):
    _workers: ActorFleet
    _owns_ray = False  # this backend called ray.init, so close() calls ray.shutdown

    def _make_workers(self, pool: PoolConfig, engine: EngineConfig, handler: str) -> ActorFleet:
        return ActorFleet(
            pool,
            engine,
            handler,
            on_ready=self._worker_ready,
            on_message=self._on_message,
            on_died=self._on_died,
            on_lost=self._on_lost,
        )

    async def _start_workers(self) -> None:
        self._owns_ray = await asyncio.to_thread(connect, self.config.ray_address)
        await self._workers.start()

    async def close(self, timeout: float | None = None) -> None:
        try:
            await super().close(timeout)
        finally:
            if self._owns_ray:
                self._owns_ray = False
                await asyncio.to_thread(ray.shutdown)

    def nodes(self) -> dict[str, dict[str, int]]:
        """Per Ray node: actors up and busy (for ops; PoolStats has the totals)."""
        return self._workers.nodes()


def connect(address: str) -> bool:
    """Connect this process to Ray (blocking; seconds); True if this call did it."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        if address:
            ray.init(address=address)
        else:  # "local": never join a cluster that someone else's `ray start` left on this host
            ray.init(address="local", include_dashboard=False)
    except Exception as err:
        where = f"connect to the Ray cluster at {address}" if address else "start Ray here"
        hint = f" {AUTH_HINT}" if address else ""
        raise DreamError(f"Could not {where}: {type(err).__name__}: {err}.{hint}") from err
    return True
