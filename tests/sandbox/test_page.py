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


async def test_the_edit_form_opens_filled_and_its_changes_make_a_new_dream(page, sandbox):
    """issue 22: Edit opens the bot's form (a modal) on the page, filled with the dream's
    settings; a bad value is refused by the form itself; Cancel sends nothing; Submit sends the
    form as Discord would, and the new dream says what changed."""
    from playwright.async_api import expect

    await expect(page.locator("#bot-status")).to_have_attribute("data-phase", "online")
    await act_as(page, "Ada")  # her own quota: Alice's may be spent by the first test
    results = page.locator("article.msg.bot", has=page.locator(".embed-image"))
    before = await results.count()

    async def dream_form(page):
        await page.set_input_files('[data-option="image"] input', PHOTO)
        for name, value in (("octaves", "1"), ("steps", "2"), ("size", "64")):
            await page.fill(f'[data-option="{name}"] input', value)

    await run_command(page, "dream", dream_form)
    await expect(results).to_have_count(before + 1, timeout=DREAM_MS)
    dreamed = results.nth(before)
    edit = dreamed.get_by_role("button", name=re.compile("Edit"))
    form, numbers = page.locator("#modal-form"), '[data-field="Strength, steps, octaves"] input'

    # Cancel closes the form and sends nothing
    submitted = sum(r.type == 5 for r in sandbox.local.interactions.values())
    await edit.click()
    await expect(form).to_be_visible(timeout=UI_MS)
    await page.click("#modal-cancel")
    await expect(form).to_be_hidden()

    await edit.click()
    await expect(form).to_be_visible(timeout=UI_MS)
    await expect(page.locator("#modal-title")).to_have_text("Edit this dream")
    await expect(page.locator(numbers)).to_have_value(re.compile(r"^[\d.]+, 2, 1$"))
    await expect(page.locator('[data-field="Seed"] input')).to_have_value(re.compile(r"^\d+$"))
    await expect(page.locator('[data-field="Layer or mix"] input')).not_to_have_value("")
    await expect(page.locator('[data-field="Smooth"] select')).to_have_value("0")
    await expect(page.locator('[data-field="Colours"] select')).to_have_value("dream")
    was = await page.locator(numbers).input_value()
    await page.fill(numbers, "")
    await page.click("#modal-submit")
    await expect(page.locator("#modal-error")).to_contain_text("Strength, steps, octaves")
    assert sum(r.type == 5 for r in sandbox.local.interactions.values()) == submitted

    await page.fill(numbers, was.replace(", 2, 1", ", 3, 1"))
    await page.click("#modal-submit")
    await expect(form).to_be_hidden(timeout=UI_MS)
    await expect(results).to_have_count(before + 2, timeout=DREAM_MS)
    edited = results.nth(before + 1)
    await expect(edited.locator(".embed")).to_contain_text("changed: steps 2 → 3")
    await expect(edited.locator(".context")).to_contain_text("Ada submitted a form")


async def test_a_components_v2_gallery_shows_and_its_buttons_reach_the_bot(page, sandbox):
    """issue 22: a Components V2 message (no content, no embeds: a container of text, a media
    gallery, a section and buttons) is drawn as Discord draws it; its pictures load from its
    attachments, a spoiler stays hidden until clicked, and its buttons, however deep, send the
    component interaction a classic button does."""
    from playwright.async_api import expect

    from tests.sandbox.v2 import TITLE, post_gallery

    sent = await post_gallery(sandbox.local, 3)
    shown = page.locator(f'article.msg[data-id="{sent["id"]}"]')
    pictures = shown.locator(".gallery img")
    await expect(pictures).to_have_count(3, timeout=UI_MS)
    for i in range(3):
        await expect(pictures.nth(i)).to_have_js_property("complete", True)
        await expect(pictures.nth(i)).to_have_js_property("naturalWidth", 96)  # the PNG's own
    await expect(shown.locator(".text-display .md-h2")).to_have_text(TITLE)
    await expect(shown.locator(".text-display").first).to_contain_text("3 dreams of one image")
    await expect(shown.locator(".container")).to_have_css("border-left-color", "rgb(88, 101, 242)")
    await expect(shown.locator(".attachments")).to_have_count(0)  # only where components say
    hidden = shown.locator(".gallery-item").last
    await expect(hidden).to_have_class(re.compile(r"\bspoiler\b"))
    await hidden.click()
    await expect(hidden).to_have_class(re.compile(r"\brevealed\b"))
    await expect(shown.get_by_role("button", name="Delete")).to_be_disabled()

    def clicked(custom_id):
        return lambda: next(
            (
                r
                for r in sandbox.local.interactions.values()
                if r.type == 3 and r.payload["data"].get("custom_id") == custom_id
            ),
            None,
        )

    alice = next(p["id"] for p in sandbox.personas if p["name"] == "Alice")
    for name, custom_id in (("Deeper", "test-v2:deeper"), ("Edit", "test-v2:edit")):
        await shown.get_by_role("button", name=re.compile(name)).click()
        rec = await sandbox.local.wait_for(clicked(custom_id), UI_MS / 1000)
        assert rec.payload["data"]["component_type"] == 2
        assert rec.payload["message"]["id"] == sent["id"]
        assert rec.payload["member"]["user"]["id"] == alice


async def test_variants_come_back_as_one_gallery_whose_buttons_dream_one_variant(page, sandbox):
    """issue 22, through the real bot: /dream variants:2 answers with one Components V2 gallery
    (both dreams load on the page); Edit 2 opens the form filled with variant 2's own layer and
    seed, and Deeper 2 dreams that variant alone as a normal result."""
    from playwright.async_api import expect

    await expect(page.locator("#bot-status")).to_have_attribute("data-phase", "online")
    await act_as(page, "Ada")
    galleries = page.locator("article.msg.bot", has=page.locator(".gallery"))
    results = page.locator("article.msg.bot", has=page.locator(".embed-image"))
    before_galleries, before_results = await galleries.count(), await results.count()

    async def dream_form(page):
        await page.set_input_files('[data-option="image"] input', PHOTO)
        for name, value in (("octaves", "1"), ("steps", "2"), ("size", "64"), ("variants", "2")):
            await page.fill(f'[data-option="{name}"] input', value)

    await run_command(page, "dream", dream_form)
    await expect(galleries).to_have_count(before_galleries + 1, timeout=DREAM_MS)
    gallery = galleries.nth(before_galleries)
    pictures = gallery.locator(".gallery img")
    await expect(pictures).to_have_count(2)
    for i in range(2):
        await expect(pictures.nth(i)).to_have_js_property("complete", True)
        assert await pictures.nth(i).evaluate("img => img.naturalWidth") > 0
    await expect(gallery.locator(".text-display").first).to_contain_text("2 variants")

    # variant 2's target and seed, as its gallery item names them
    message_id = await gallery.get_attribute("data-id")
    items = next(
        c["items"]
        for c in _tree(sandbox.local.state.messages[message_id]["components"])
        if c.get("type") == 12
    )
    described = re.fullmatch(r"Variant 2: (\S+) · seed (\d+)", items[1]["description"])
    assert described is not None, items[1]
    layer, seed = described.groups()

    await gallery.get_by_role("button", name="Edit 2").click()
    form = page.locator("#modal-form")
    await expect(form).to_be_visible(timeout=UI_MS)
    await expect(page.locator('[data-field="Layer or mix"] input')).to_have_value(layer)
    await expect(page.locator('[data-field="Seed"] input')).to_have_value(seed)
    await page.click("#modal-cancel")
    await expect(form).to_be_hidden()

    await gallery.get_by_role("button", name="Deeper 2").click()
    await expect(results).to_have_count(before_results + 1, timeout=DREAM_MS)


def _tree(components):
    """Every component in a V2 component tree, depth first."""
    for c in components:
        yield c
        yield from _tree(c.get("components") or [])
        if isinstance(c.get("accessory"), dict):
            yield from _tree([c["accessory"]])
