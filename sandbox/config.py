"""The bot's settings in the sandbox: the user's, pointed at the local Discord.

Only what must differ changes: the endpoints (and global sync, so the local Discord holds the
commands the page builds its forms from), the models (only those whose weights are here), the store
(a file of its own), the hosts attachments are fetched from, and the health server (off, so it never
collides with a bot running on this machine).
"""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings

LOCAL_HOST = "127.0.0.1"


def sandbox_settings(
    settings: Settings,
    *,
    api_base: str,
    gateway_url: str,
    available: tuple[str, ...],
    store_path: Path,
    cdn_base: str = "",
) -> Settings:
    """`settings` for a bot that talks to the local Discord and dreams with `available` models."""
    if not available:
        raise ValueError("no model to dream with")
    engine = settings.engine
    models = tuple(m for m in engine.models if m in available)
    default = engine.default_model if engine.default_model in models else models[0]
    warm = tuple(m for m in settings.pool.warm_models if m in models) or (default,)
    return settings.model_copy(
        update={
            "engine": engine.model_copy(update={"models": models, "default_model": default}),
            "pool": settings.pool.model_copy(update={"warm_models": warm}),
            "discord": settings.discord.model_copy(
                update={
                    "token": None,
                    "api_base": api_base,
                    "gateway_url": gateway_url,
                    "cdn_base": cdn_base,
                    "dev_guild_id": 0,
                    "sync_commands": True,
                }
            ),
            "store": settings.store.model_copy(update={"path": store_path}),
            "intake": settings.intake.model_copy(update={"allowed_hosts": (LOCAL_HOST,)}),
            "health": settings.health.model_copy(update={"enabled": False}),
        }
    )
