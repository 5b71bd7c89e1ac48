"""The one place that picks the backend from config, so the bot never names one."""

from __future__ import annotations

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.errors import DreamError
from dreamcore.pool.backend import DreamBackend
from dreamcore.pool.pool import LocalPool


def make_backend(
    pool: PoolConfig, engine: EngineConfig, handler: str | None = None
) -> DreamBackend:
    """LocalPool, or RayBackend for `pool.backend = "ray"` (Ray is imported only then).
    `handler` (module:Class) overrides `pool.handler`, what the workers run jobs with."""
    if pool.backend == "ray":
        try:
            from dreamcore.pool.ray_backend import RayBackend
        except ImportError as err:
            raise DreamError(
                "pool.backend is `ray` but Ray is not installed: pip install 'dreambot[ray]'."
            ) from err
        return RayBackend(pool, engine, handler)
    return LocalPool(pool, engine, handler)
