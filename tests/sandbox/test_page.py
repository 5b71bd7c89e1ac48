"""The sandbox page in a real headless Chromium, driving the real bot through the local Discord:
post an image, run /dream (options from the synced definitions, live layer autocomplete), see the
progress then the dream, press Re-roll, react with 🌀, use "Dream this image", then /quota me as a
member and /quota set as an admin.

Every wait is on what the page shows (Playwright's auto-waiting `expect`); the timeouts only bound
a failing run. How long a dream takes never decides the outcome.
"""

from __future__ import annotations

import re

import pytest
import pytest_asyncio

from tests.bot.conftest import E2E
from tests.helpers import DATA
from tests.sandbox.browser import chromium, unavailable

pytestmark = [
    *E2E,
    pytest.mark.timeout(420),
    pytest.mark.skipif(unavailable() is not None, reason=f"no browser: {unavailable()}"),
]
PHOTO = str(DATA / "chelsea.jpg")
UI_MS = 15_000  # the page reacting to a click or an event
DREAM_MS = 120_000  # a dream on a loaded 2-core machine, as a bound only


@pytest_asyncio.fixture(loop_scope="module")
async def page(sandbox, tmp_path):
    async with chromium(viewport={"width": 1280, "height": 900}) as context:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        await page.goto(sandbox.url)
        yield page
        await page.screenshot(path=str(tmp_path / "page.png"))  # what it looked like, to debug
        assert not errors, errors


async def run_command(page, name: str, fill=None) -> None:
    """Open /name from the palette (typed into the composer), fill its form, run it."""
    from playwright.async_api import expect

    await page.fill("#composer-text", "/" + name[:3])
    await page.locator(f'[data-command="{name}"]').click()
    await expect(page.locator("#command-form")).to_be_visible()
    if fill is not None:
        await fill(page)
    await page.click("#run-command")
    await expect(page.locator("#command-form")).to_be_hidden(timeout=UI_MS)


async def act_as(page, name: str) -> None:
    await page.locator("#personas label", has_text=name).click()


async def test_a_member_and_an_admin_try_every_feature(page):
    from playwright.async_api import expect

    await expect(page.locator("#bot-status")).to_have_attribute("data-phase", "online")
    results = page.locator("article.msg.bot", has=page.locator(".embed-image"))

    # post an image, as Alice
    await page.set_input_files("#composer-file", PHOTO)
    await page.fill("#composer-text", "my cat")
    await page.click("#send")
    posted = page.locator("article.msg:not(.bot)", has_text="my cat")
    await expect(posted.locator(".attachments img")).to_be_visible(timeout=UI_MS)

    # /dream: ranges from the synced definition are enforced; the layer comes from autocomplete
    async def dream_form(page):
        await page.set_input_files('[data-option="image"] input', PHOTO)
        await page.fill('[data-option="octaves"] input', "9")
        await page.click("#run-command")
        await expect(page.locator("#command-error")).to_contain_text("octaves")
        await page.fill('[data-option="octaves"] input', "1")
        await page.fill('[data-option="steps"] input', "2")
        await page.fill('[data-option="size"] input', "64")
        await page.locator('[data-option="layer"] input').click()
        await page.keyboard.type("relu")
        choices = page.locator('[data-option="layer"] .ac-list li')
        await expect(choices).to_have_count(3, timeout=UI_MS)
        await choices.filter(has_text="relu2").click()
        await expect(page.locator('[data-option="layer"] input')).to_have_value("relu2")

    await run_command(page, "dream", dream_form)
    first = results.first
    await expect(first).to_be_visible(timeout=DREAM_MS)
    await expect(first.locator(".context")).to_contain_text("used /dream")
    await expect(first.locator(".ack")).to_contain_text("answered in")
    await expect(first.locator(".embed")).to_contain_text("relu2")
    # the progress came first: the message's versions end with the dream, after a status line
    await first.locator("details.history summary").click()
    versions = first.locator("details.history li")
    await expect(versions.filter(has_text=re.compile("Queued|Dreaming")).first).to_be_visible()
    await expect(versions.last).to_contain_text("dream.")

    # Re-roll, then 🌀 on the result, then "Dream this image" on the posted photo
    await first.get_by_role("button", name=re.compile("Re-roll")).click()
    await expect(results).to_have_count(2, timeout=DREAM_MS)
    await first.hover()
    await first.locator(".react-spiral").click()
    await expect(first.locator(".reaction")).to_have_text("🌀 1", timeout=UI_MS)
    await expect(results).to_have_count(3, timeout=DREAM_MS)
    await posted.hover()
    await posted.locator(".apps").click()
    await page.locator(".menu button", has_text="Dream this image").click()
    await expect(results).to_have_count(4, timeout=DREAM_MS)
    await expect(results.last.locator(".context")).to_contain_text("used Dream this image")

    # as a member: /dreamconfig is hidden by its default permissions; /quota me answers privately
    await page.fill("#composer-text", "/")
    await expect(page.locator('[data-command="dreamconfig"].denied')).to_contain_text(
        "Manage Server"
    )
    await run_command(page, "quota me")
    mine = page.locator("article.msg.ephemeral", has_text="dreams left today")
    await expect(mine).to_be_visible(timeout=UI_MS)
    await expect(mine).to_contain_text("Only you can see this")

    # as an admin: Alice's private answer is not shown; /quota set gives her 5 a day
    await act_as(page, "Ada")
    await expect(mine).to_have_count(0)

    async def quota_form(page):
        await page.select_option('[data-option="scope"] select', "user")
        await page.select_option('[data-option="user"] select', label="Alice")
        await page.fill('[data-option="daily"] input', "5")

    await run_command(page, "quota set", quota_form)
    saved = page.locator("article.msg.ephemeral", has_text="Quota rule saved")
    await expect(saved).to_contain_text("@Alice: daily 5", timeout=UI_MS)

    await act_as(page, "Alice")
    await run_command(page, "quota me")
    limited = page.locator("article.msg.ephemeral", has_text="of 5 dreams left today")
    await expect(limited).to_be_visible(timeout=UI_MS)
    await expect(page.locator("#rule-list")).to_contain_text("Slowest answer so far")


async def test_a_posted_video_shows_as_one_and_dreams_into_an_animation(page, tmp_path):
    """issue 23: the page takes videos, the local Discord serves them as what they are (so the
    page plays them), and /dream answers one with an animation."""
    pytest.importorskip("av", reason="videos need PyAV (the `video` extra)")
    from PIL import Image
    from playwright.async_api import expect

    from tests import videos as V

    pictures = [Image.effect_noise((64, 48), 30 + 9 * i).convert("RGB") for i in range(3)]
    clip = tmp_path / "clip.webm"
    clip.write_bytes(V.clip("webm", pictures=pictures))
    await act_as(page, "Ada")  # her own quota: Alice's may be spent by the test above
    await page.set_input_files("#composer-file", str(clip))
    await page.fill("#composer-text", "my clip")
    await page.click("#send")
    posted = page.locator("article.msg:not(.bot)", has_text="my clip")
    await expect(posted.locator(".attachments video")).to_be_visible(timeout=UI_MS)

    async def dream_form(page):
        await page.set_input_files('[data-option="image"] input', str(clip))
        await page.fill('[data-option="octaves"] input', "1")
        await page.fill('[data-option="steps"] input', "1")
        await page.fill('[data-option="size"] input', "64")

    await run_command(page, "dream", dream_form)
    answered = page.locator("article.msg.bot", has=page.locator(".embed"), has_text="3 frames")
    await expect(answered).to_be_visible(timeout=DREAM_MS)
