"""Device, precision and memory-format choices, made once from EngineConfig.

Two ways to run a network in reduced precision:
- CPU: the weights are cast to the working dtype once, when the model is placed, and the input is
  cast after preprocessing (FeatureNet.forward). No autocast: it re-casts every weight on every
  gradient step (~5% of a bf16 step here).
- CUDA: fp32 weights, under autocast for bf16 / fp16. `auto` is measured per model when it is
  loaded (precision.py): fp32 until then.
The pixels, the preprocessing, the objective's sum, the normalised step and the clipping stay in
fp32 either way (deepdream.py, objectives.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from functools import partial

import torch

from dreamcore.config import EngineConfig
from dreamcore.engine.featurenet import FeatureNet

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# cpuinfo's names (torch.cpu.get_capabilities) for bf16 dot products done in hardware:
# x86 AVX512-BF16 or AMX-BF16; ARMv8.6 BF16 (NEON) or SVE BF16.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16")


@dataclass(frozen=True)
class Placement:
    device: torch.device
    weights_dtype: torch.dtype  # what the network's weights (and so its activations) are stored in
    autocast_dtype: torch.dtype | None  # CUDA: autocast to this; None: no autocast
    channels_last: bool

    @property
    def precision(self) -> str:
        """The working precision's name (fp32 / bf16 / fp16), for logs and benchmarks."""
        dtype = self.autocast_dtype or self.weights_dtype
        return next(name for name, d in DTYPES.items() if d == dtype)

    def autocast(self) -> Callable[[], AbstractContextManager]:
        if self.autocast_dtype is None:
            return nullcontext
        return partial(torch.autocast, device_type=self.device.type, dtype=self.autocast_dtype)

    def with_precision(self, name: str) -> Placement:
        """The same placement in another precision (CUDA: another autocast; weights stay)."""
        dtype = DTYPES[name]
        if self.device.type != "cuda":
            return replace(self, weights_dtype=dtype)
        return replace(self, autocast_dtype=None if dtype == torch.float32 else dtype)

    def prepare(self, net: FeatureNet) -> FeatureNet:
        """Move a built network to the device, memory format and dtype it will run in (once;
        one copy of each weight, not one per attribute)."""
        layout = torch.channels_last if self.channels_last else torch.preserve_format
        # torch's overloads of to() leave out (device, dtype, memory_format=), which it takes
        return net.to(self.device, self.weights_dtype, memory_format=layout)  # type: ignore[call-overload]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"engine.device is {name!r} but no CUDA device is available")
    return device


def cpu_capabilities() -> Mapping[str, object]:
    """What torch's cpuinfo found on this CPU (flag -> bool; absent or False: not there)."""
    get = getattr(torch.cpu, "get_capabilities", None)  # torch >= 2.9
    if get is not None:
        return get()
    queries = {"avx512_bf16": "_is_avx512_bf16_supported", "amx_bf16": "_is_amx_tile_supported"}
    flags = {}  # older torch: only these two x86 queries (AMX tiles always come with AMX-BF16)
    for flag, query in queries.items():
        fn = getattr(torch.cpu, query, None)
        flags[flag] = bool(fn()) if fn is not None else False
    return flags


def native_bf16_flags() -> list[str]:
    """The CPU flags that make bf16 fast here (empty: bf16 would be emulated, fp32 is faster)."""
    caps = cpu_capabilities()
    return [flag for flag in NATIVE_BF16_FLAGS if caps.get(flag) is True]


def auto_precision(device: torch.device) -> str:
    # CUDA: fp32 weights to start with; the Dreamer measures each model's fastest precision when
    # it loads it (precision.py). CPU: bf16 where the hardware multiplies bf16 itself (1.8-1.95x
    # per dream here, see README, Benchmarks); elsewhere oneDNN would emulate it through fp32
    # conversions, so fp32 stays (not measured: this machine has AMX).
    if device.type == "cuda":
        return "fp32"
    if device.type == "cpu" and native_bf16_flags():
        return "bf16"
    return "fp32"


def placement(config: EngineConfig) -> Placement:
    device = resolve_device(config.device)
    precision = auto_precision(device) if config.precision == "auto" else config.precision
    dtype = DTYPES[precision]
    if device.type == "cuda":
        weights, autocast = torch.float32, (None if precision == "fp32" else dtype)
    else:
        weights, autocast = dtype, None
    # channels-last lets oneDNN (CPU) and cuDNN pick their fastest convolutions: measured here
    # 1.4x (inception5h) to 2x (VGG16) per gradient step on CPU.
    channels_last = config.channels_last in ("auto", "on")
    return Placement(device, weights, autocast, channels_last)
