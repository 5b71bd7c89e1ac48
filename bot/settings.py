"""All settings: `config/default.toml` (or the file in DREAMBOT_CONFIG), then DREAMBOT_* env vars.

Nested keys use a double underscore: `DREAMBOT_POOL__CPU_WORKERS=2`, `DREAMBOT_DISCORD__TOKEN=...`.
The Discord token is a secret: it is read only from the environment and never printed.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from dreamcore.catalog import model_info
from dreamcore.config import EngineConfig, PoolConfig
from dreamcore.links import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_S, FetchLimits

DEFAULT_CONFIG_FILE = Path(__file__).resolve().parent.parent / "config" / "default.toml"


class DiscordConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    token: SecretStr | None = None  # environment only: DREAMBOT_DISCORD__TOKEN
    api_base: str = ""  # "" = Discord itself; e.g. http://127.0.0.1:8080/api/v10 for a double
    gateway_url: str = ""  # "" = ask Discord
    cdn_base: str = ""  # "" = Discord's CDN; where avatars are fetched from (a double: its base)
    dev_guild_id: int = 0  # sync commands to this guild only (instant); 0 = global
    sync_commands: bool = True
    message_content_intent: bool = True  # needed to re-dream reactions on users' own images
    user_installs: bool = True  # people may install /dream to their account (DMs, other servers)
    images_per_message: Annotated[int, Field(ge=1, le=10)] = 4  # a message's images dreamed at once
    reaction_redream: bool = True
    reaction_emoji: str = "🌀"
    progress_interval_s: Annotated[float, Field(ge=0.5)] = 2.0  # at most one progress edit per this
    token_lifetime_s: Annotated[float, Field(gt=0)] = (
        900.0  # interaction tokens expire after 15 min
    )
    token_margin_s: Annotated[float, Field(ge=0)] = 60.0  # switch to a channel message this early


class StoreConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path = Path("data/dreambot.sqlite3")


class QuotaConfig(BaseModel):
    """Defaults that apply where a server has set no rule. 0 means unlimited."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_daily: Annotated[int, Field(ge=0)] = 20
    user_concurrent: Annotated[int, Field(ge=0)] = 2
    guild_daily: Annotated[int, Field(ge=0)] = 0
    guild_concurrent: Annotated[int, Field(ge=0)] = 0
    cooldown_s: Annotated[float, Field(ge=0)] = 0.0
    frames_per_dream: Annotated[int, Field(ge=1)] = 4  # an animation: 1 + a dream per this many


class IntakeConfig(BaseModel):
    """Fetching images: attachments (from `allowed_hosts` only) and links people paste (from
    public addresses, or `url_allowed_hosts`), with the same cap and timeout."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_download_bytes: Annotated[int, Field(ge=1024)] = DEFAULT_MAX_BYTES
    download_timeout_s: Annotated[float, Field(gt=0)] = DEFAULT_TIMEOUT_S
    allowed_hosts: tuple[str, ...] = ("cdn.discordapp.com", "media.discordapp.net")
    url_fetch: bool = True  # /dream url: links to images anywhere public
    url_allowed_hosts: tuple[str, ...] = ()  # links to these may be private (self-hosting)
    downloads_per_user: Annotated[int, Field(ge=1)] = 2  # at once; more are refused
    max_held_bytes: Annotated[int, Field(ge=1024)] = 512 * 1024 * 1024  # images orders hold

    def limits(self) -> FetchLimits:
        return FetchLimits(max_bytes=self.max_download_bytes, timeout_s=self.download_timeout_s)


class HealthConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 9108


class SandboxConfig(BaseModel):
    """`dreambot sandbox`: the bot against a local Discord, with a page on 127.0.0.1:port."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    port: Annotated[int, Field(ge=0, le=65535)] = 8765  # 0 = any free port
    store_path: str = ""  # "" = a fresh SQLite file per run (the local Discord is new every run)
    upload_limit: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024  # Discord's default per file
    grant_message_content: bool = True  # the Developer Portal switch; false shows life without it


class LogConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    level: str = "INFO"
    format: Literal["text", "json"] = "text"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DREAMBOT_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    engine: EngineConfig = EngineConfig()
    pool: PoolConfig = PoolConfig()
    discord: DiscordConfig = DiscordConfig()
    store: StoreConfig = StoreConfig()
    quota: QuotaConfig = QuotaConfig()
    intake: IntakeConfig = IntakeConfig()
    health: HealthConfig = HealthConfig()
    sandbox: SandboxConfig = SandboxConfig()
    log: LogConfig = LogConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_file()
        if path.is_file():
            _refuse_secrets_in_file(path)
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @field_validator("engine")
    @classmethod
    def _engine_models_known(cls, engine: EngineConfig) -> EngineConfig:
        for name in (engine.default_model, *engine.models):
            model_info(name)
        return engine


def config_file() -> Path:
    return Path(os.environ.get("DREAMBOT_CONFIG", DEFAULT_CONFIG_FILE)).expanduser()


def _refuse_secrets_in_file(path: Path) -> None:
    with path.open("rb") as f:
        data = tomllib.load(f)
    if "token" in data.get("discord", {}):
        raise ValueError(
            f"{path} contains discord.token: secrets come only from the environment "
            "(set DREAMBOT_DISCORD__TOKEN)"
        )


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
