"""How many Ray actors, and what each one asks the cluster for: pure, so it is tested without Ray.

The cluster is read again every few seconds (ray_fleet), so the plan follows machines joining and
leaving: with `workers = "auto"` there is one actor per GPU in the cluster, and CPU actors
(`cpu_workers` of them) only while the cluster has no GPU at all. Each actor holds
`pool.dreams_per_worker` dreams at once for its device, as a local worker does (auto: several on a
GPU, stepped together; one on a CPU).
"""

from __future__ import annotations

from dataclasses import dataclass

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.errors import DreamError
from dreamcore.pool.worker import dreams_per_worker


@dataclass(frozen=True)
class ClusterView:
    gpus: float  # over the nodes alive now
    max_node_cpus: float  # the biggest node's CPUs: a CPU actor must fit on one machine


@dataclass(frozen=True)
class ActorPlan:
    count: int
    gpus: float  # per actor: 1 (the actor sees one GPU, as cuda:0) or 0
    cpus: float  # per actor, reserved in Ray's accounting
    threads: int  # torch CPU threads in the actor
    device: str  # EngineConfig.device inside the actor
    dreams: int  # dreams one actor holds at once (its `run` calls on threads of their own)

    @property
    def kind(self) -> tuple[float, str]:
        """Actors of another kind are replaced when the plan changes (e.g. a GPU node joined)."""
        return self.gpus, self.device


def plan_actors(pool: PoolConfig, engine: EngineConfig, cluster: ClusterView) -> ActorPlan:
    wants_gpu = engine.device != "cpu"
    if wants_gpu and cluster.gpus >= 1:
        count = int(cluster.gpus) if pool.workers == "auto" else pool.workers
        threads = pool.threads_per_worker or 1  # the GPU does the work
        # Ray pins each actor to its GPU (CUDA_VISIBLE_DEVICES): cuda:N would name another one.
        device = "auto" if engine.device == "auto" else "cuda"
        dreams = dreams_per_worker(pool, engine.model_copy(update={"device": "cuda"}))
        return ActorPlan(count, 1.0, threads, threads, device, dreams)
    if engine.device.startswith("cuda"):
        raise DreamError(
            f"The engine is set to device `{engine.device}`, but the Ray cluster has no GPU."
        )
    count = pool.cpu_workers if pool.workers == "auto" else pool.workers
    threads = pool.threads_per_worker or max(1, int(cluster.max_node_cpus) // count)
    device = "cpu" if engine.device == "auto" else engine.device
    dreams = dreams_per_worker(pool, engine.model_copy(update={"device": device}))
    return ActorPlan(count, 0.0, threads, threads, device, dreams)
