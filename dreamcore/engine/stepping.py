"""What a batched gradient step needs of a dream's gradient: its network, objective, autocast and
memory format. The batcher (batching.py) groups dreams by it and its CUDA graphs (graphs.py) key
on it; dreamcore.engine.gradient.Gradient is the one that fills it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from dreamcore.engine.featurenet import FeatureNet
from dreamcore.engine.objectives import Objective


class Gradient(Protocol):
    net: FeatureNet
    objective: Objective
    autocast: Callable[[], AbstractContextManager]
    channels_last: bool
