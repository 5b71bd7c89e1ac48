"""Remake docs/sandbox.png: the sandbox page with a finished dream, in headless Chromium.

    scripts/screenshot-sandbox [OUTPUT]

Runs the real sandbox with the offline `vgg16-hed` model, posts the test photo, runs /dream with
layer relu4_3 (live autocomplete, as a user would), waits for the result and photographs the page.
The PNG is reduced to 256 colours so that it stays small in the repository.
"""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

from PIL import Image

from bot.settings import DiscordConfig, HealthConfig, SandboxConfig, Settings
from dreamcore.config import EngineConfig, PoolConfig
from sandbox.models import probe
from sandbox.session import Sandbox
from tests.helpers import DATA
from tests.sandbox.browser import chromium, unavailable

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "sandbox.png"
PHOTO = str(DATA / "chelsea.jpg")
MODEL = "vgg16-hed"
BOUND_MS = 600_000  # a CPU dream, as a bound only
MAX_BYTES = 300 * 1024


def settings() -> Settings:
    return Settings(
        engine=EngineConfig(device="cpu", default_model=MODEL, models=(MODEL,)),
        pool=PoolConfig(workers=1, warm_models=(MODEL,)),
        discord=DiscordConfig(progress_interval_s=1.0),
        health=HealthConfig(enabled=False),
        sandbox=SandboxConfig(port=0),
    )


async def photograph(page) -> bytes:
    from playwright.async_api import expect

    await expect(page.locator("#bot-status")).to_have_attribute(
        "data-phase", "online", timeout=BOUND_MS
    )
    await page.set_input_files("#composer-file", PHOTO)
    await page.fill("#composer-text", "Chelsea, in the sun")
    await page.click("#send")
    await page.fill("#composer-text", "/dre")
    await page.locator('[data-command="dream"]').click()
    await page.set_input_files('[data-option="image"] input', PHOTO)
    for name, value in (("octaves", "3"), ("steps", "8"), ("size", "360"), ("seed", "1")):
        await page.fill(f'[data-option="{name}"] input', value)
    await page.locator('[data-option="layer"] input').click()
    await page.keyboard.type("relu4_3")
    await page.locator('[data-option="layer"] .ac-list li', has_text="relu4_3").first.click()
    await page.click("#run-command")
    result = page.locator("article.msg.bot", has=page.locator(".embed-image"))
    await expect(result).to_be_visible(timeout=BOUND_MS)
    await expect(result.locator(".embed-image")).to_have_js_property("complete", True)
    await page.mouse.move(0, 0)  # no hover toolbar in the picture
    return await page.screenshot()


def shrink(png: bytes) -> bytes:
    im = Image.open(io.BytesIO(png)).convert("RGB").quantize(256, dither=Image.Dither.NONE)
    out = io.BytesIO()
    im.save(out, "PNG", optimize=True)
    return out.getvalue()


async def main(output: Path) -> int:
    why = unavailable()
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    s = settings()
    report = await probe(s.engine)
    if MODEL not in report.available:
        print(f"error: {MODEL} is not available here: {report.lines()}", file=sys.stderr)
        return 2
    async with Sandbox(s, report, port=0) as sandbox:
        async with chromium(viewport={"width": 1280, "height": 860}) as context:
            page = await context.new_page()
            await page.goto(sandbox.url)
            png = shrink(await photograph(page))
    output.write_bytes(png)  # noqa: ASYNC240 - the page is closed: nothing else runs now
    print(f"{output}: {len(png) // 1024} KiB")
    return 0 if len(png) <= MAX_BYTES else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT)))
