"""The Handler protocol: what `pool.handler` names. The engine's Dreamer and the tests' handlers
are Handlers; a class that is not one fails the worker's start with one clear line."""

from __future__ import annotations

import pytest

from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.engine.dreamer import Dreamer
from dreamcore.errors import DreamError
from dreamcore.pool import Handler, HandlerFactory
from dreamcore.pool.worker import start_failed, start_handler
from tests.dreamcore.pool.handlers import SleepyHandler
from tests.gated_dreamer import GatedDreamer

FACTORIES: tuple[HandlerFactory, ...] = (Dreamer, GatedDreamer, SleepyHandler)  # checked statically


class NotAHandler:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config

    def warm(self, models: tuple[str, ...]) -> None:
        pass  # but no run()


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_the_engine_and_the_test_handlers_are_handlers(factory) -> None:
    assert isinstance(factory(EngineConfig(device="cpu")), Handler)


def test_a_class_that_is_not_a_handler_fails_the_start_with_one_clear_line(monkeypatch) -> None:
    import torch

    threads = torch.get_num_threads()  # start_handler sets this process's threads: keep them
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, str(threads))
    path = f"{__name__}:NotAHandler"
    with pytest.raises(DreamError) as raised:
        start_handler(path, EngineConfig(device="cpu"), PoolConfig(warm_models=()), threads)
    failed = start_failed(raised.value)
    assert failed.message == (
        f"pool.handler `{path}` made a NotAHandler, which is not a dream handler: it needs "
        "warm(models) and run(request, on_progress, should_stop)."
    )
