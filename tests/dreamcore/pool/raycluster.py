"""One local Ray cluster for the whole test session (it takes seconds to start).

A head with 2 CPUs and 2 fake GPUs, so actors keep their production `num_gpus=1` on a machine
without any GPU; `ray.cluster_utils.Cluster`, so a test can add a node and remove it again.
Everything of Ray's stays in a temp dir of its own, with a token of its own: other Ray clusters
on this host are never touched (and never `ray stop`, which would stop them all).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# "0" on Linux makes Ray give its nodes the loopback address (as on macOS, its use of this switch)
LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def ray_env(tmp: str) -> dict[str, str]:
    """The environment for a Ray of the tests' own, with a token of its own."""
    path = os.environ.get("PYTHONPATH")
    return {
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(16),
        "RAY_TMPDIR": tmp,
        # Ray nices its workers (15): on a machine busy with other work they starve for minutes
        # and miss Ray's registration timeout. Tests want them as prompt as local workers.
        "RAY_worker_niceness": "0",
        LOOPBACK_ONLY: "0",
        # actors import the test handlers (tests.dreamcore.pool.handlers) from the checkout
        "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT),
    }


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def session_cluster() -> Iterator[object]:
    import ray
    from ray._raylet import Config
    from ray.cluster_utils import Cluster

    tmp = tempfile.mkdtemp(prefix="dbray")  # short: Ray's socket paths must fit in 107 bytes
    (Path(tmp) / "ray").mkdir()
    with patched_environ(ray_env(tmp)):
        Config.initialize(
            ""
        )  # Ray read RAY_AUTH_MODE when imported: read it again (as ray.init does)
        cluster = Cluster(
            initialize_head=True,
            connect=True,
            head_node_args=dict(
                num_cpus=2, num_gpus=2, include_dashboard=False, temp_dir=f"{tmp}/ray"
            ),
        )
        try:
            yield cluster
        finally:
            ray.shutdown()
            cluster.shutdown()
            shutil.rmtree(tmp, ignore_errors=True)
    Config.initialize("")


def subprocess_env(tmp: str) -> dict[str, str]:
    """This process's environment for a child with a Ray of its own (none of the session's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.pop("PYTHONPATH", None)
    return {**env, **ray_env(tmp)}
