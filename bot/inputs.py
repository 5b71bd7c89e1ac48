"""An order's images, fetched once it is acknowledged: its image (or, when that is gone, its
fallback, with a note) and its guide, downloaded and checked by the intake and held against its
byte budget until the order is released; then its params fitted to the image (an animated
upload's frames, under the server's cap) and its price final. Variants of one image fetch it once
and share it (`fetch_shared`)."""

from __future__ import annotations

import logging

from bot.errors import DownloadFailed, user_message
from bot.intake import HeldImage, Intake
from bot.order import ImageRef, Order, Pricing
from bot.params import animated
from bot.replies import guide_failed_text
from dreamcore.errors import DreamError

log = logging.getLogger(__name__)


class Inputs:
    def __init__(self, intake: Intake, pricing: Pricing) -> None:
        self.intake = intake
        self.pricing = pricing

    async def fetch(self, order: Order) -> Order:
        """`order` with its images; raises a DreamError whose text is for the user."""
        plan = order.plan
        image, notes = await self._image(order)
        guide = None
        if plan.guide is not None:
            try:
                guide = await self._download(order, plan.guide, guide=True)
            except Exception as err:  # DreamErrors are user text; others get logged
                image.release()
                if not isinstance(err, DreamError):
                    log.error("fetching a guide failed", exc_info=err)
                raise DownloadFailed(guide_failed_text(user_message(err))) from err
        params = animated(plan.params, image, self.pricing.engine, order.guild)
        return order.fetched(image, guide, params, self.pricing.units(params, image), notes)

    async def fetch_shared(self, orders: list[Order]) -> list[Order]:
        """Orders of one image (variants: same image, guide and size, other params), fetched
        once: each holds the same bytes (given back when the last is released), its params
        fitted to them and priced; raises like `fetch`."""
        first = await self.fetch(orders[0])
        assert first.image is not None
        first.image.shared_by(len(orders))
        if first.guide is not None:
            first.guide.shared_by(len(orders))
        notes = first.notes[len(orders[0].notes) :]  # e.g. the fallback's
        fetched = [first]
        for order in orders[1:]:
            params = animated(order.plan.params, first.image, self.pricing.engine, order.guild)
            units = self.pricing.units(params, first.image)
            fetched.append(order.fetched(first.image, first.guide, params, units, notes))
        return fetched

    async def _image(self, order: Order) -> tuple[HeldImage, tuple[str, ...]]:
        plan = order.plan
        try:
            return await self._download(order, plan.image), ()
        except DownloadFailed as err:
            if plan.fallback is None:
                raise
            log.info("input unavailable (%s); dreaming the fallback", err)
        return await self._download(order, plan.fallback), (plan.fallback_note,)

    async def _download(self, order: Order, ref: ImageRef, guide: bool = False) -> HeldImage:
        return await self.intake.fetch(
            ref.url,
            user_id=order.requester.user_id,
            max_side=order.plan.params.max_side,
            declared_size=ref.declared_size,
            guide=guide,
            link=ref.link,
        )
