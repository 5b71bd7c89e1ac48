"""bot.inputs: an order's images fetched once it is acknowledged: the fallback image, a failed
download, and the price once the image is known."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bot.errors import DownloadFailed
from bot.guilds import ChannelRef, GuildSettings
from bot.inputs import Inputs
from bot.order import ImageRef, Order, Plan, Pricing, Requester, orders_for
from dreamcore.config import EngineConfig
from dreamcore.request import make_params

PARAMS = make_params(model="tiny", max_side=64)
GUILD = GuildSettings(5, (), None, True, "🌀")


class Intake:
    def __init__(self, missing=(), frames=1) -> None:
        self.fetched, self.missing, self.frames = [], set(missing), frames

    async def fetch(self, url, **kw):
        self.fetched.append(url)
        if url in self.missing:
            raise DownloadFailed("gone")
        return SimpleNamespace(
            data=b"x",
            source=b"y",
            release=lambda: None,
            shared_by=lambda holders: None,
            frames=self.frames,
            size=(8, 8),
        )


def units_for(frames):
    return 1 if frames <= 1 else 1 + (frames - 1) // 4


PRICING = Pricing(EngineConfig(), units_for)


def order_of(plan: Plan) -> Order:
    [order] = orders_for("slash", Requester(42, 5, 100), GUILD, ChannelRef(100), plan, PRICING)
    return order


async def test_a_missing_image_falls_back_with_a_note():
    intake = Intake(missing={"https://cdn/old.png"})
    with_fallback = Plan(
        PARAMS,
        ImageRef("https://cdn/old.png"),
        fallback=ImageRef("https://cdn/dream.png"),
        fallback_note="the original is gone",
    )
    order = await Inputs(intake, PRICING).fetch(order_of(with_fallback))
    assert intake.fetched == ["https://cdn/old.png", "https://cdn/dream.png"]
    assert order.notes == ("the original is gone",)


@pytest.mark.parametrize("missing", [set(), {"https://cdn/in.png"}])
async def test_without_a_fallback_a_failed_download_is_told(missing):
    inputs = Inputs(Intake(missing=missing), PRICING)
    order = order_of(Plan(PARAMS, ImageRef("https://cdn/in.png", 10)))
    if missing:
        with pytest.raises(DownloadFailed, match="gone"):  # what the flow tells the user
            await inputs.fetch(order)
    else:
        assert (await inputs.fetch(order)).image is not None


async def test_a_zoom_of_an_animated_upload_is_priced_for_the_frames_it_makes():
    # issue 19 #2: a 2-frame GIF with animate:zoom frames:64 was priced as 2 frames
    zoom = make_params(model="tiny", max_side=64, animate="zoom", frames=64)
    order = order_of(Plan(zoom, ImageRef("https://cdn/a.gif")))
    order = await Inputs(Intake(frames=2), PRICING).fetch(order)
    assert order.params.frames == 64 and order.units == units_for(64)


async def test_a_guide_that_cant_be_fetched_is_said_as_the_guides():
    intake = Intake(missing={"https://cdn/guide.png"})
    plan = Plan(PARAMS, ImageRef("https://cdn/in.png"), guide=ImageRef("https://cdn/guide.png"))
    with pytest.raises(DownloadFailed, match=r"^The guide image: gone$"):
        await Inputs(intake, PRICING).fetch(order_of(plan))


async def test_variants_fetch_their_image_once_and_share_it():
    intake = Intake(missing={"https://cdn/old.png"})
    plan = Plan(
        make_params(model="tiny", layer="relu2", max_side=64),
        ImageRef("https://cdn/old.png"),
        fallback=ImageRef("https://cdn/dream.png"),
        fallback_note="the original is gone",
    )
    orders = orders_for(
        "slash", Requester(42, 5, 100), GUILD, ChannelRef(100), plan.variants(3), PRICING
    )
    fetched = await Inputs(intake, PRICING).fetch_shared(orders)
    assert intake.fetched == ["https://cdn/old.png", "https://cdn/dream.png"]  # once, for 3
    assert len({id(o.image) for o in fetched}) == 1
    assert [o.params.layer for o in fetched] == [o.plan.params.layer for o in orders]
    assert all(o.notes == ("the original is gone",) for o in fetched)


def test_a_shared_image_is_given_back_when_its_last_holder_releases_it():
    from bot.intake import ByteBudget, HeldImage

    budget = ByteBudget(100)
    image = HeldImage(b"12345", b"678")
    image.count_against(budget)
    image.shared_by(3)
    image.release()
    image.release()
    assert budget.held == 8
    image.release()
    assert budget.held == 0
