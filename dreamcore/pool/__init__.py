"""The process pool: the only bridge between the asyncio bot and the torch engine.

Importing this package never imports torch (workers load it in their own processes), nor ray
(make_backend imports it for `pool.backend = "ray"` only).
"""

from dreamcore.pool.backend import DreamBackend, PoolStats
from dreamcore.pool.factory import make_backend
from dreamcore.pool.handler import Handler, HandlerFactory
from dreamcore.pool.jobs import Job, JobEvent
from dreamcore.pool.messages import new_job_id
from dreamcore.pool.pool import DEFAULT_HANDLER, LocalPool

__all__ = [
    "DEFAULT_HANDLER",
    "DreamBackend",
    "Handler",
    "HandlerFactory",
    "Job",
    "JobEvent",
    "LocalPool",
    "PoolStats",
    "make_backend",
    "new_job_id",
]
