"""A headless Chromium driven by Playwright, for tests and scripts that look at the sandbox page.

The browser is Debian's (`apt-get install chromium`, which scripts/test does where it can), never
one that `playwright install` downloads: that needs the internet. Chromium's own background
connections are switched off (this machine's network refuses them), and every launch gets a fresh
profile.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from typing import Any

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")


def chromium_path() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def unavailable() -> str | None:
    """Why no browser test can run here (None when one can)."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[dev]' brings it)"
    if chromium_path() is None:
        return (
            "no Chromium here: scripts/test installs Debian's `chromium` package when it runs as "
            "root with apt-get; install it (or `chromium-browser`) to run the browser tests"
        )
    return None


@contextlib.asynccontextmanager
async def chromium(**context_options: Any) -> AsyncIterator[Any]:
    """A fresh browser context (its own temporary profile); closed afterwards."""
    from playwright.async_api import async_playwright

    path = chromium_path()
    assert path is not None, unavailable()
    async with async_playwright() as pw:
        with tempfile.TemporaryDirectory(prefix="dreambot-chromium-") as profile:
            context = await pw.chromium.launch_persistent_context(
                profile, executable_path=path, args=CHROMIUM_ARGS, headless=True, **context_options
            )
            try:
                yield context
            finally:
                await context.close()
