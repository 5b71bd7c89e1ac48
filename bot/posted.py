"""A dream result as posted, read back for what dreams it again (Deeper, Re-roll, Animate, 🌀).

What it was dreamed with comes from the ledger: the embed's footer names the job, and its row
holds the exact params (and the seed the dream used). The embed is for people; its settings line
carries less (no octave scale, blend, tile size or WebP output) and is read back only for a
result the ledger doesn't know (posted before it kept them, or a wiped database). The row may
belong to another server or a DM (user installs): the params are still that dream's.

One variant of a gallery reply (bot/gallery.py) has no embed: its button names its job and
its number k, its file is `dream-k.*`, and without its ledger row the gallery's text tells its
params (the shared settings line, its own target and seed), read back as an embed's are.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
from dataclasses import dataclass
from typing import Protocol

import discord

from bot import gallery, layout, replies
from bot.errors import NoImageFound
from bot.order import ImageRef, Plan
from bot.store import LedgerRow
from dreamcore.errors import DreamError, InvalidParams
from dreamcore.request import DreamParams, make_params

log = logging.getLogger(__name__)
LOOKUP_BUDGET_S = 0.5  # of the 3 s to acknowledge a click (the quota peek has its own 1.5 s)


class JobReader(Protocol):  # the store: one read, on its reader connection
    async def read_job(self, job_id: str) -> LedgerRow | None: ...


@dataclass(frozen=True)
class PostedResult:
    message: discord.Message
    embed: discord.Embed | None  # None: not a result of ours (or its embed was removed)
    recorded: DreamParams | None = None  # the ledger's params, when it knows the job
    variant: int | None = None  # one variant of a gallery reply: its files are dream-{k}.*
    gallery_text: str | None = None  # that reply's text (bot.gallery), when it shows ours

    @classmethod
    async def read(cls, message: discord.Message, store: JobReader) -> PostedResult:
        """The message and its job's ledger row; never raises (without the row, the embed)."""
        embed = layout.result_embed_of(message)
        job_id = layout.job_id_of(embed) if embed is not None else None
        recorded = await recorded_params(store, job_id) if job_id else None
        return cls(message, embed, recorded)

    @classmethod
    async def read_variant(
        cls, message: discord.Message, store: JobReader, job_id: str, index: int
    ) -> PostedResult:
        """Variant `index` of a gallery reply, dreamed as job `job_id`; never raises (without
        the row, the gallery's text)."""
        recorded = await recorded_params(store, job_id)
        return cls(message, None, recorded, variant=index, gallery_text=gallery.text_of(message))

    @classmethod
    def of(cls, message: discord.Message, recorded: DreamParams | None = None) -> PostedResult:
        return cls(message, layout.result_embed_of(message), recorded)

    def params(self) -> DreamParams:
        """What the result was dreamed with: the ledger's record, else the embed's settings
        (a variant's: its gallery's text); raises InvalidParams when neither can tell."""
        if self.recorded is not None:
            return self.recorded
        if self.variant is not None:
            text = self.gallery_text
            shown = gallery.variant_params(text, self.variant) if text is not None else None
            if shown is None:
                raise InvalidParams(replies.VARIANT_FORGOTTEN)
            return shown
        if self.embed is None:
            raise InvalidParams(replies.UNREADABLE_SETTINGS)
        return layout.params_from_embed(self.embed)

    def attachment(self, prefix: str) -> discord.Attachment | None:
        return layout.attachment_named(self.message, prefix)

    def dream(self) -> discord.Attachment:
        dream = self.attachment(layout.dream_prefix(self.variant))
        if dream is None:
            raise NoImageFound(replies.DREAM_IMAGE_GONE)
        return dream


async def recorded_params(store: JobReader, job_id: str) -> DreamParams | None:
    """A job's params as the ledger recorded them, with the seed the dream used; None when the
    ledger doesn't know the job, can't answer in time, or holds params this version refuses."""
    try:
        row = await asyncio.wait_for(store.read_job(job_id), LOOKUP_BUDGET_S)
    except (TimeoutError, sqlite3.Error) as err:
        log.warning("job %s: ledger lookup failed (%r); reading its message", job_id, err)
        return None
    if row is None or not row.params:
        log.info("job %s is not in the ledger; reading its message", job_id)
        return None
    values = {**row.params, "seed": row.seed if row.seed is not None else row.params.get("seed")}
    try:
        return make_params(**values)
    except DreamError as err:
        log.warning(
            "job %s: its recorded params are refused (%s); reading its message", job_id, err
        )
        return None


# --- what a re-dream starts from ------------------------------------------------------------


def with_guide(message: discord.Message, params: DreamParams, plan: Plan) -> Plan:
    """A guided dream's guide travels with it (guide.jpg); without it, dream unguided and say so."""
    if not params.guided:
        return plan
    guide = layout.attachment_named(message, layout.GUIDE_PREFIX)
    if guide is not None:  # a spoilered result's files hide its re-dreams too
        return dataclasses.replace(plan, guide=ImageRef.of(guide))
    unguided = plan.params.model_copy(update={"guided": False})
    return dataclasses.replace(plan, params=unguided, notes=(*plan.notes, replies.GUIDE_GONE_NOTE))


def source_plan(posted: PostedResult, params: DreamParams, old: DreamParams) -> Plan:
    """`params` dreamed on the result's input (Re-roll, Edit). The input travels with the
    result (its `source` attachment, whose link is fresh whenever the message is read); if it
    is gone, the result is dreamed instead and the reply says so. `old`: what the result was
    dreamed with (its guide goes along when it was guided)."""
    dream = ImageRef.of(posted.dream())
    source = posted.attachment(layout.SOURCE_PREFIX)
    legacy = layout.legacy_input_url(posted.embed) if posted.embed is not None else None
    if source is not None:
        plan = Plan(params, ImageRef.of(source))
    elif legacy is not None:  # an older result: try its link, which may have expired
        gone = replies.SOURCE_GONE_NOTE
        plan = Plan(params, ImageRef(legacy), fallback=dream, fallback_note=gone)
    else:
        plan = Plan(params, dream, notes=(replies.SOURCE_GONE_NOTE,))
    return with_guide(posted.message, old, plan)
