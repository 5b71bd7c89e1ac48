"""Small helpers both worker sets (local processes, Ray actors) and the pool share."""

from __future__ import annotations

import asyncio
from typing import Any

BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.5, 60.0  # restarts after failed starts: 0.5 s, 1 s, 2 s, ...


def backoff_s(failures: int) -> float:
    """How long to wait before the next start after `failures` failed ones in a row (>= 1)."""
    return min(BACKOFF_FIRST_S * 2 ** (failures - 1), BACKOFF_MAX_S)


def cancel_timer(handle: asyncio.TimerHandle | None) -> None:
    if handle is not None:
        handle.cancel()


def retrieve_exception(future: asyncio.Future[Any]) -> None:
    """A done-callback: mark a future's exception as seen (no 'never retrieved' warning)."""
    if not future.cancelled():
        future.exception()
