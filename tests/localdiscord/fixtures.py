"""Reusable pytest fixture: `fake_discord`, a started FakeDiscord with discord.py pointed at it.

Use from another test package with
`from tests.localdiscord.fixtures import fake_discord  # noqa: F401`.
discord.py's endpoints are restored afterwards; the test fails if the fake hit a handler error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from localdiscord.server import FakeDiscord


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        with fake.patch_discord():
            yield fake
    assert not fake.errors, fake.dump()
