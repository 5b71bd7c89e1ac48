"""Which device each worker gets, decided without importing torch in the parent.

A cheap look for an NVIDIA driver first (CUDA_VISIBLE_DEVICES, /proc/driver/nvidia, /dev/nvidiactl,
nvidia-smi); only when one is there, a short-lived interpreter asks torch itself for the device
count, so the answer is exactly what the workers will see (and honours CUDA_VISIBLE_DEVICES).
A CPU-only machine therefore pays nothing, and the bot process never loads torch or CUDA.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.errors import DreamError

_PROBE = "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)"


def nvidia_driver_present() -> bool:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return False
    return (
        os.path.exists("/proc/driver/nvidia/version")
        or os.path.exists("/dev/nvidiactl")
        or shutil.which("nvidia-smi") is not None
    )


async def probe_cuda_devices(timeout: float = 120.0) -> int:
    """How many CUDA devices torch sees, asked in a throwaway interpreter (0 on any trouble)."""
    if not nvidia_driver_present():
        return 0
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _PROBE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return 0
    try:
        return int(out.decode().strip() or 0)
    except ValueError:
        return 0


async def plan_devices(pool: PoolConfig, engine: EngineConfig) -> list[str]:
    """One device string per worker: "auto" = one per GPU or `cpu_workers`; an int round-robins."""
    device = engine.device
    if device in ("auto", "cuda"):
        gpus = await probe_cuda_devices(pool.start_timeout_s)
        if gpus == 0 and device == "cuda":
            raise DreamError("The engine is set to device `cuda`, but no CUDA device is visible.")
        if gpus:
            count = gpus if pool.workers == "auto" else pool.workers
            return [f"cuda:{i % gpus}" for i in range(count)]
        device = "cpu"
    if pool.workers == "auto":  # a pinned device (cpu, cuda:N, ...) without an explicit count
        count = pool.cpu_workers if device == "cpu" else 1
    else:
        count = pool.workers
    return [device] * count


def threads_per_worker(pool: PoolConfig, n_workers: int) -> int:
    return pool.threads_per_worker or max(1, (os.cpu_count() or 1) // max(1, n_workers))
