"""How many Ray actors, with what resources (no Ray needed), and picking the backend."""

from __future__ import annotations

import sys

import pytest

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.errors import DreamError
from dreamcore.pool import LocalPool, make_backend
from dreamcore.pool.ray_plan import ActorPlan, ClusterView, plan_actors
from dreamcore.pool.worker import GPU_DREAMS_PER_WORKER

AUTO, CPU = EngineConfig(device="auto"), EngineConfig(device="cpu")
GPUS = ClusterView(gpus=4, max_node_cpus=16)
NO_GPU = ClusterView(gpus=0, max_node_cpus=8)


def test_ray_plan_one_actor_per_gpu_in_the_cluster() -> None:
    assert plan_actors(PoolConfig(), AUTO, GPUS) == ActorPlan(
        4, 1.0, 1, 1, "auto", GPU_DREAMS_PER_WORKER
    )
    assert plan_actors(PoolConfig(workers=2), AUTO, GPUS).count == 2
    assert plan_actors(PoolConfig(threads_per_worker=3), AUTO, GPUS).cpus == 3
    pinned = plan_actors(PoolConfig(), EngineConfig(device="cuda:1"), GPUS)
    assert pinned.device == "cuda"  # Ray shows each actor its own GPU as cuda:0


def test_ray_plan_cpu_actors_share_the_biggest_node_without_gpus() -> None:
    assert plan_actors(PoolConfig(cpu_workers=2), AUTO, NO_GPU) == ActorPlan(2, 0.0, 4, 4, "cpu", 1)
    assert plan_actors(PoolConfig(workers=3), AUTO, NO_GPU).threads == 2
    assert plan_actors(PoolConfig(cpu_workers=16), AUTO, NO_GPU).threads == 1
    assert plan_actors(PoolConfig(), CPU, GPUS).gpus == 0  # device cpu: GPUs left alone
    with pytest.raises(DreamError, match="no GPU"):
        plan_actors(PoolConfig(), EngineConfig(device="cuda"), NO_GPU)


def test_ray_plan_an_actor_holds_as_many_dreams_as_a_local_worker_on_its_device() -> None:
    # "auto": the GPU's batch on a GPU actor (whatever engine.device names it), one on a CPU actor
    assert (
        plan_actors(PoolConfig(), EngineConfig(device="cuda:1"), GPUS).dreams
        == GPU_DREAMS_PER_WORKER
    )
    assert plan_actors(PoolConfig(), AUTO, NO_GPU).dreams == 1
    assert plan_actors(PoolConfig(), EngineConfig(device="auto", batching="off"), GPUS).dreams == 1
    three = PoolConfig(dreams_per_worker=3)
    assert plan_actors(three, AUTO, GPUS).dreams == plan_actors(three, AUTO, NO_GPU).dreams == 3


def test_ray_plan_kind_changes_when_gpus_come_or_go() -> None:
    with_gpus, without = (
        plan_actors(PoolConfig(), AUTO, GPUS),
        plan_actors(PoolConfig(), AUTO, NO_GPU),
    )
    assert with_gpus.kind != without.kind
    assert with_gpus.kind == plan_actors(PoolConfig(), AUTO, ClusterView(8, 2)).kind


def test_make_backend_picks_local_or_ray_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(make_backend(PoolConfig(), CPU), LocalPool)
    if "ray" in sys.modules or _importable("ray"):
        from dreamcore.pool.ray_backend import RayBackend

        assert isinstance(make_backend(PoolConfig(backend="ray"), CPU), RayBackend)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "dreamcore.pool.ray_backend", None)
    with pytest.raises(DreamError, match=r"pip install 'dreambot\[ray\]'"):
        make_backend(PoolConfig(backend="ray"), CPU)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
