"""Quota decisions, made against the ledger in the store (nothing in memory survives a restart).

Semantics:
- Per-user limits in a guild come from the most specific rule: a `user` rule for that user; else
  the most generous `role` rule among the user's roles (the @everyone role id equals the guild id,
  so a rule on it is the server's per-user default); else `QuotaConfig.user_daily/user_concurrent`.
  Each field resolves on its own: a rule's None means "not set here", 0 means unlimited.
- A `server` rule (target_id = guild id) caps the whole server (else `guild_daily` and
  `guild_concurrent`).
- DMs (guild_id None) use the config's per-user defaults only.
- Usage is counted per scope (one guild, or DMs): done rows created since UTC midnight plus rows in
  flight (reserved/running), so concurrent requests cannot overshoot. Failed, cancelled and lost
  rows never count. A `done` row costs its units (a still 1, an animation more: `units_for`).
- `cooldown_s`: minimum time between a user's accepted requests (any outcome, any scope). The
  parts of one request (a message's images, each its own job) are one request: only the first
  is held to the cooldown and the dreams-at-once limits (the next request waits from the last).

The store reads the usage (`Tx.usage`); `refusal_for` decides on it, a pure function. The ledger
asks it inside the transaction that reserves a job (bot/ledger.py); `peek` asks it read-only (on
the store's reader, which never waits for a writer), so a trigger can refuse before it
acknowledges publicly or downloads anything.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot import replies
from bot.errors import QuotaExceeded
from bot.settings import QuotaConfig
from bot.store import QuotaRule, Scope, Store, Tx, Usage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    daily: int  # 0 = unlimited
    concurrent: int  # 0 = unlimited
    source: str  # "user rule", "role rule", "default" (per-user) / "server rule", "default"


@dataclass(frozen=True)
class QuotaStatus:
    daily_limit: int | None  # None = unlimited
    used_today: int  # done since UTC midnight
    in_flight: int  # reserved or running now
    remaining: int | None  # None = unlimited
    concurrent_limit: int | None
    resets_at: datetime  # next UTC midnight
    limit_source: str
    server_daily_limit: int | None = None
    server_used_today: int = 0  # done today + in flight, whole server


class QuotaService:
    def __init__(
        self, store: Store, defaults: QuotaConfig, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.defaults = defaults
        self.clock = clock

    # --- limits ---

    def user_limits(
        self, rules: Sequence[QuotaRule], user_id: int, role_ids: Sequence[int]
    ) -> Limits:
        user = next((r for r in rules if r.scope == "user" and r.target_id == user_id), None)
        roles = [r for r in rules if r.scope == "role" and r.target_id in set(role_ids)]

        def resolve(name: str, default: int) -> tuple[int, str]:
            if user is not None and getattr(user, name) is not None:
                return getattr(user, name), "user rule"
            values = [getattr(r, name) for r in roles if getattr(r, name) is not None]
            if values:
                return (0 if 0 in values else max(values)), "role rule"  # most generous
            return default, "default"

        daily, daily_src = resolve("daily", self.defaults.user_daily)
        concurrent, conc_src = resolve("concurrent", self.defaults.user_concurrent)
        return Limits(daily, concurrent, daily_src if daily_src != "default" else conc_src)

    def server_limits(self, rules: Sequence[QuotaRule]) -> Limits:
        server = next((r for r in rules if r.scope == "server"), None)
        daily = server.daily if server and server.daily is not None else self.defaults.guild_daily
        conc = (
            server.concurrent
            if server and server.concurrent is not None
            else self.defaults.guild_concurrent
        )
        return Limits(daily, conc, "server rule" if server else "default")

    def units_for(self, frames: int) -> int:
        """A job's price in dreams: a still is 1; an animation 1 + 1 per `frames_per_dream`
        frames after the first (it is that much more work)."""
        return 1 if frames <= 1 else 1 + math.ceil((frames - 1) / self.defaults.frames_per_dream)

    async def peek(
        self,
        *,
        user_id: int,
        guild_id: int | None,
        role_ids: Sequence[int],
        units: int = 1,
        budget_s: float | None = None,
    ) -> QuotaExceeded | None:
        """Would a request be refused now? Read-only; the ledger's `reserve` still decides.
        Not known within `budget_s`: None (the reservation will decide)."""
        now = self.clock()
        read = self.store.read(lambda tx: tx.usage(user_id, guild_id, since=_midnight(now)))
        try:
            usage = await asyncio.wait_for(read, budget_s)
        except TimeoutError:
            log.warning("quota peek took over %.1f s; the reservation will decide", budget_s)
            return None
        return self.refusal_for(usage, user_id, role_ids, now, units)

    def refusal(
        self,
        tx: Tx,
        user_id: int,
        guild_id: int | None,
        role_ids: Sequence[int],
        now: float,
        units: int = 1,
        follows: bool = False,
    ) -> QuotaExceeded | None:
        """`refusal_for` the usage as it is in `tx`: the ledger asks it inside the transaction
        that reserves, so concurrent requests cannot overshoot."""
        usage = tx.usage(user_id, guild_id, since=_midnight(now))
        return self.refusal_for(usage, user_id, role_ids, now, units, follows)

    def refusal_for(
        self,
        usage: Usage,
        user_id: int,
        role_ids: Sequence[int],
        now: float,
        units: int = 1,
        follows: bool = False,
    ) -> QuotaExceeded | None:
        """The first limit a new request costing `units` would break, or None. `follows`: a
        later part of a request already accepted (a message's images): neither the
        dreams-at-once limits nor the cooldown apply to it again (the daily ones do)."""
        user = self.user_limits(usage.rules, user_id, role_ids)
        server = self.server_limits(usage.rules)
        if user.daily and usage.used + usage.held + units > user.daily:
            left = max(0, user.daily - usage.used - usage.held)
            if units > 1 and left:
                return QuotaExceeded(replies.costs_more_text(units, left), "user_daily")
            return QuotaExceeded(replies.user_daily_text(user.daily, now), "user_daily")
        if not follows and user.concurrent and usage.running >= user.concurrent:
            return QuotaExceeded(replies.user_concurrent_text(usage.running), "user_concurrent")
        if usage.guild_id is not None:
            spent = usage.server_used + usage.server_held + units
            if server.daily and spent > server.daily:
                return QuotaExceeded(replies.guild_daily_text(server.daily, now), "guild_daily")
            running = usage.server_running
            if not follows and server.concurrent and running >= server.concurrent:
                return QuotaExceeded(replies.guild_concurrent_text(running), "guild_concurrent")
        last = usage.last_request_at
        if self.defaults.cooldown_s and not follows and last is not None:
            wait = last + self.defaults.cooldown_s - now  # its request's first part waited
            if wait > 0:
                return QuotaExceeded(replies.cooldown_text(wait), "cooldown")
        return None

    # --- status for /quota me ---

    async def status(
        self, *, user_id: int, guild_id: int | None, role_ids: Sequence[int]
    ) -> QuotaStatus:
        now = self.clock()
        usage = await self.store.read(lambda tx: tx.usage(user_id, guild_id, _midnight(now)))
        limits = self.user_limits(usage.rules, user_id, role_ids)
        server = self.server_limits(usage.rules) if guild_id is not None else None
        return QuotaStatus(
            daily_limit=limits.daily or None,
            used_today=usage.used,
            in_flight=usage.running,
            remaining=max(0, limits.daily - usage.used - usage.held) if limits.daily else None,
            concurrent_limit=limits.concurrent or None,
            resets_at=replies.next_midnight(now),
            limit_source=limits.source,
            server_daily_limit=server.daily or None if server else None,
            server_used_today=usage.server_used + usage.server_held,
        )

    # --- admin ---

    async def set_rule(
        self,
        *,
        guild_id: int,
        scope: Scope,
        target_id: int,
        daily: int | None,
        concurrent: int | None,
    ) -> QuotaRule:
        """Create or replace a rule. For scope 'server' target_id must be the guild id."""
        if scope not in ("server", "role", "user"):
            raise ValueError(f"unknown scope {scope!r}")
        if scope == "server" and target_id != guild_id:
            raise ValueError("a server rule's target_id is the guild id")
        if any(v is not None and v < 0 for v in (daily, concurrent)):
            raise ValueError("limits are >= 0 (0 = unlimited)")
        rule = QuotaRule(guild_id, scope, target_id, daily, concurrent, self.clock())
        await self.store.set_rule(rule)
        return rule

    async def get_rules(self, guild_id: int) -> list[QuotaRule]:
        return await self.store.get_rules(guild_id)

    async def reset_rule(self, *, guild_id: int, scope: Scope, target_id: int) -> bool:
        """Remove a rule (back to inherited limits); False if there was none."""
        return await self.store.delete_rule(guild_id, scope, target_id)


def _midnight(ts: float) -> float:
    return replies.next_midnight(ts).timestamp() - 86400
