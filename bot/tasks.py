"""The bot's own background tasks (dreams on their way, charges retried), owned in one place so
that shutdown can let them finish (`drain`) or cancel them (`close`)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Tasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()
        self.closing = False  # shutdown began: take no new work

    def track(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
        """Run `coro` as one of the tasks: drained and cancelled with the others."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float) -> None:
        """Take no new work; wait (up to `timeout`) for what runs to end."""
        self.closing = True
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def close(self) -> None:
        """Cancel what is left (each settles itself: a dream on its way refunds)."""
        self.closing = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
