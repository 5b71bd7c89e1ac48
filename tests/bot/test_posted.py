"""bot.posted: what a posted result was dreamed with is the ledger's record (the embed's footer
names the job); results the ledger doesn't know fall back to the embed's settings line, a
gallery's variants to the gallery's text."""

from __future__ import annotations

import asyncio
import random
from types import SimpleNamespace

import discord
import pytest

from bot import layout
from bot import posted as posted_mod
from bot.buttons import animate_plan, deeper_plan, gallery_view, reroll_plan
from bot.errors import NoImageFound
from bot.gallery import Gallery, Shown
from bot.guilds import GuildSettings
from bot.posted import PostedResult
from bot.store import LedgerRow, Store
from dreamcore.config import EngineConfig
from dreamcore.errors import InvalidParams
from dreamcore.request import DreamParams, make_params
from tests.helpers import dream_result

ENGINE = EngineConfig(models=("tiny",), default_model="tiny", max_side_cap=512)
GUILD = GuildSettings(1, (), 256, True, "🌀")
JOB = "0123456789ab"
# What the embed's settings line can't carry (issue 21), as a dream recorded them.
UNLISTED = {"octave_scale": 1.8, "blend": 0.5, "tile_size": 128, "output": "webp"}


def _params(**kw):
    return make_params(model="tiny", layer="relu1", max_side=200, **{**UNLISTED, **kw})


def _message(params, job_id: str = JOB, seed: int = 77, files=("dream.png", "source.jpg")):
    embed = layout.result_embed(
        dream_result(seed=seed), params, requester_id=1, job_id=job_id, queue_s=0.0
    )
    attachments = [SimpleNamespace(filename=n, url=f"https://cdn/{n}", size=10) for n in files]
    return SimpleNamespace(embeds=[embed], attachments=attachments)


def _row(dreamed, **kw) -> LedgerRow:
    values = dict(
        job_id=JOB,
        user_id=5,
        guild_id=None,
        channel_id=9,
        source="slash",
        model="tiny",
        layer="relu1",
        params=dreamed.model_dump(mode="json"),
        status="done",
        seed=77,
    )
    return LedgerRow(**{**values, **kw})


@pytest.fixture
async def store(tmp_path):
    async with await Store.open(tmp_path / "bot.sqlite3") as s:
        yield s


async def test_params_are_the_ledgers_record_with_the_seed_the_dream_used(store):
    params = _params()  # asked without a seed; the dream used 77 (the row's seed column)
    # a row from a DM by someone else than whoever clicks: the params are still the dream's
    await store.transaction(lambda tx: tx.insert_job(_row(params)))
    posted = await PostedResult.read(_message(params), store)
    assert posted.params() == params.model_copy(update={"seed": 77})
    lossy = layout.params_from_embed(posted.embed)  # why: the codec drops what it doesn't list
    assert all(getattr(lossy, k) != v for k, v in UNLISTED.items())


async def test_deeper_reroll_and_animate_keep_what_the_embed_does_not_list(store):
    params = _params()
    await store.transaction(lambda tx: tx.insert_job(_row(params)))
    posted = await PostedResult.read(_message(params), store)
    plans = {
        "deeper": deeper_plan(posted, ENGINE)(GUILD),
        "reroll": reroll_plan(posted, ENGINE, random.Random(3))(GUILD),
        "animate": animate_plan(posted, ENGINE)(GUILD),
    }
    for action, plan in plans.items():
        kept = {k: getattr(plan.params, k) for k in UNLISTED}
        assert kept == UNLISTED, action
    assert plans["deeper"].params.seed == 77 and plans["reroll"].params.seed != 77
    assert plans["animate"].params.animate == "zoom"


async def test_a_result_the_ledger_does_not_know_falls_back_to_its_embed(store):
    # posted before the ledger was read (or the database was wiped): the embed still says enough
    params = make_params(model="tiny", layer="relu2:3", octaves=2, steps=3, max_side=200)
    message = _message(params)
    posted = await PostedResult.read(message, store)
    assert posted.recorded is None
    assert posted.params() == params.model_copy(update={"seed": 77})
    plan = deeper_plan(posted, ENGINE)(GUILD)
    assert (plan.params.layer, plan.params.octaves, plan.params.steps) == ("relu2:3", 2, 3)
    assert plan.image.url == "https://cdn/dream.png"


async def test_recorded_params_this_version_refuses_fall_back_to_the_embed(store):
    params = _params()
    row = _row(params, params={**params.model_dump(mode="json"), "retired_knob": 1})
    await store.transaction(lambda tx: tx.insert_job(row))
    posted = await PostedResult.read(_message(params), store)
    assert posted.recorded is None and posted.params().layer == "relu1"


async def test_a_ledger_that_cannot_answer_in_time_falls_back_to_the_embed(monkeypatch):
    class Stuck:  # a reader that never answers: the click must still be acknowledged
        async def read_job(self, job_id):
            await asyncio.Event().wait()

    monkeypatch.setattr(posted_mod, "LOOKUP_BUDGET_S", 0.01)
    params = make_params(model="tiny", layer="relu1", max_side=200)
    posted = await PostedResult.read(_message(params), Stuck())
    assert posted.recorded is None and posted.params().layer == "relu1"


async def test_what_is_not_a_result_is_refused_as_before(store):
    params = _params()
    await store.transaction(lambda tx: tx.insert_job(_row(params)))
    no_embed = SimpleNamespace(embeds=[], attachments=_message(params).attachments)
    with pytest.raises(InvalidParams):
        deeper_plan(await PostedResult.read(no_embed, store), ENGINE)(GUILD)
    no_dream = _message(params, files=("source.jpg",))
    with pytest.raises(NoImageFound):
        deeper_plan(await PostedResult.read(no_dream, store), ENGINE)(GUILD)


def _gallery_message(*files: str, shown: tuple[DreamParams, ...] = ()):
    """A variants reply (Components V2): no embed; its dreams dream-1.* ..., one source; its
    components as discord.py parses a received message, showing `shown` (none: no text)."""
    attachments = [SimpleNamespace(filename=n, url=f"https://cdn/{n}", size=10) for n in files]
    components = []
    if shown:
        parts = tuple(
            Shown(k, JOB, f"dream-{k}.png", p, dream_result(seed=p.seed, target=p.target), 0.0)
            for k, p in enumerate(shown, 1)
        )
        payload = gallery_view(Gallery(1, parts, source="source.jpg")).to_components()
        components = [discord.components._component_factory(c) for c in payload]
    return SimpleNamespace(embeds=[], attachments=attachments, components=components)


async def test_a_variant_is_its_jobs_record_and_its_own_numbered_file(store):
    second = make_params(model="tiny", layer="relu1:3", max_side=200, **UNLISTED)
    await store.transaction(lambda tx: tx.insert_job(_row(second, seed=5)))
    message = _gallery_message("dream-1.png", "SPOILER_dream-2.webp", "source.jpg")
    posted = await PostedResult.read_variant(message, store, JOB, 2)
    plan = deeper_plan(posted, ENGINE)(GUILD)
    assert plan.image.url == "https://cdn/SPOILER_dream-2.webp" and plan.hidden
    assert plan.params == second.model_copy(update={"seed": 5})
    reroll = reroll_plan(posted, ENGINE, random.Random(1))(GUILD)
    assert reroll.image.url == "https://cdn/source.jpg"  # the variants' one source


async def test_the_ledgers_record_comes_before_the_gallerys_text(store):
    recorded = make_params(model="tiny", layer="relu1:3", seed=5, max_side=200, **UNLISTED)
    await store.transaction(lambda tx: tx.insert_job(_row(recorded, seed=5)))
    shown = make_params(model="tiny", layer="relu2:1", seed=9, max_side=200)
    message = _gallery_message("dream-1.png", shown=(shown,))
    posted = await PostedResult.read_variant(message, store, JOB, 1)
    assert posted.params() == recorded  # with what the text can't carry


async def test_a_variant_the_ledger_does_not_know_is_what_its_gallery_shows(store):
    variants = (
        make_params(model="tiny", layer="relu2:1", seed=11, octaves=2, smooth=3, max_side=200),
        make_params(model="tiny", layer="relu2:6", seed=22, octaves=2, smooth=3, max_side=200),
    )
    message = _gallery_message("dream-1.png", "dream-2.png", "source.jpg", shown=variants)
    posted = await PostedResult.read_variant(message, store, JOB, 2)
    assert posted.recorded is None  # a wiped database
    plan = deeper_plan(posted, ENGINE)(GUILD)
    assert plan.params == variants[1] and plan.image.url == "https://cdn/dream-2.png"
    animate = animate_plan(posted, ENGINE)(GUILD)
    assert (animate.params.layer, animate.params.seed) == ("relu2:6", 22)


async def test_a_ledger_that_cannot_answer_in_time_falls_back_to_the_gallerys_text(monkeypatch):
    class Stuck:  # a reader that never answers: the click must still be acknowledged
        async def read_job(self, job_id):
            await asyncio.Event().wait()

    monkeypatch.setattr(posted_mod, "LOOKUP_BUDGET_S", 0.01)
    shown = make_params(model="tiny", target_class="banana", seed=3, max_side=200)
    message = _gallery_message("dream-1.png", shown=(shown,))
    posted = await PostedResult.read_variant(message, Stuck(), JOB, 1)
    assert posted.recorded is None and posted.params() == shown


@pytest.mark.parametrize("shows", ["nothing", "another variant", "another bot's text"])
async def test_a_variant_neither_the_ledger_nor_its_gallery_tells_says_so_in_one_line(store, shows):
    message = _gallery_message("dream-1.png", "dream-2.png")  # no text: edited away
    if shows == "another variant":  # the text shows variant 1 only
        message = _gallery_message("dream-1.png", "dream-2.png", shown=(_params(seed=1),))
    if shows == "another bot's text":
        message.components = [
            discord.components._component_factory(
                {
                    "type": 10,
                    "content": "Dreamed for <@1> · `tiny` · octaves 1\n**2** · `relu1` · seed 4",
                }
            )
        ]
    posted = await PostedResult.read_variant(message, store, JOB, 2)
    assert posted.recorded is None
    with pytest.raises(InvalidParams, match="records may have been reset") as refused:
        deeper_plan(posted, ENGINE)(GUILD)
    assert "\n" not in str(refused.value)
