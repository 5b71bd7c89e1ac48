"""How a server setting is declared, and everything derived from the declarations.

A setting is one field of `GuildSettings` (bot/guilds.py) whose value is `setting(kind, ...)`: its
name and type are the field's, and the declaration says the rest once — its default (a value, or
the config's), its kind (how it is stored as JSON and checked, which /dreamconfig options set it and
how), and how /dreamconfig's answer shows it. From the declarations come the stored JSON, the
resolved settings, /dreamconfig's slash options and its answer: adding a setting is adding a field.
(The shape follows Red-DiscordBot's Config, where `register_guild(**defaults)` makes a setting one
entry; here the entry is typed.)
"""

from __future__ import annotations

import dataclasses
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from discord import app_commands

from bot.settings import DiscordConfig
from dreamcore.config import EngineConfig

F = TypeVar("F", bound=Callable[..., Any])
_SETTING = "server setting"  # the key of a declaration in its field's metadata


class Keep:
    """What options return for a setting they leave as it is."""


KEEP = Keep()


@dataclass(frozen=True)
class Option:
    """One /dreamconfig slash option: its name, its type as discord.py reads it, its help line."""

    name: str
    annotation: Any
    help: str


class Kind(ABC):
    """What a setting's values are: JSON in the database, checked when loaded, set from options."""

    @abstractmethod
    def options(self) -> tuple[Option, ...]: ...

    @abstractmethod
    def apply(self, current: Any, given: Mapping[str, Any]) -> Any:
        """The value the given options make of `current`; KEEP when they don't touch it, None
        to unset it (the default applies again)."""

    @abstractmethod
    def load(self, raw: Any) -> Any:
        """A stored JSON value as the setting's value; ValueError when it isn't one."""

    def dump(self, value: Any) -> Any:
        return value


@dataclass(frozen=True)
class Number(Kind):
    """A whole number from `low` to `high`."""

    option: str
    help: str
    low: int
    high: int

    def options(self) -> tuple[Option, ...]:
        return (Option(self.option, app_commands.Range[int, self.low, self.high], self.help),)

    def apply(self, current: Any, given: Mapping[str, Any]) -> Any:
        value = given.get(self.option)
        return KEEP if value is None else value

    def load(self, raw: Any) -> int:
        if type(raw) is not int or not self.low <= raw <= self.high:
            raise ValueError(f"not a whole number from {self.low} to {self.high}: {raw!r}")
        return raw


@dataclass(frozen=True)
class Switch(Kind):
    """On or off; `unless`: another option that, when given, turns this option to it instead."""

    option: str
    help: str
    unless: str | None = None

    def options(self) -> tuple[Option, ...]:
        return (Option(self.option, bool, self.help),)

    def apply(self, current: Any, given: Mapping[str, Any]) -> Any:
        value = given.get(self.option)
        if value is None or (self.unless and given.get(self.unless) is not None):
            return KEEP
        return value

    def load(self, raw: Any) -> bool:
        if raw not in (True, False):  # 0 and 1 too: schema 3 stored booleans as integers
            raise ValueError(f"not on or off: {raw!r}")
        return bool(raw)


@dataclass(frozen=True)
class Text(Kind):
    """A short text, trimmed; blank means unset."""

    option: str
    help: str

    def options(self) -> tuple[Option, ...]:
        return (Option(self.option, str, self.help),)

    def apply(self, current: Any, given: Mapping[str, Any]) -> Any:
        value = given.get(self.option)
        return (value.strip() or None) if value else KEEP

    def load(self, raw: Any) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError(f"not a text: {raw!r}")
        return raw


def _channel_ids(raw: Any) -> tuple[int, ...]:
    if not isinstance(raw, list | tuple) or any(type(c) is not int for c in raw):
        raise ValueError(f"not a list of channel ids: {raw!r}")
    return tuple(raw)


@dataclass(frozen=True)
class Channels(Kind):
    """A list of channels: one option adds a channel, one removes one, one empties the list."""

    add: str
    add_help: str
    remove: str
    remove_help: str
    clear: str
    clear_help: str

    def options(self) -> tuple[Option, ...]:
        return (
            Option(self.add, app_commands.AppCommandChannel, self.add_help),
            Option(self.remove, app_commands.AppCommandChannel, self.remove_help),
            Option(self.clear, bool, self.clear_help),
        )

    def apply(self, current: Any, given: Mapping[str, Any]) -> Any:
        add, remove, clear = (given.get(name) for name in (self.add, self.remove, self.clear))
        if not (add or remove or clear):
            return KEEP
        channels = [] if clear else list(current)
        if add and add.id not in channels:
            channels.append(add.id)
        if remove and remove.id in channels:
            channels.remove(remove.id)
        return tuple(channels)

    def load(self, raw: Any) -> tuple[int, ...]:
        return _channel_ids(raw)

    def dump(self, value: Any) -> Any:
        return list(value)


@dataclass(frozen=True)
class ChannelSwitch(Kind):
    """The channels where another setting's switch is on: its option names a channel, and the
    switch's option (`switch`) then turns it on or off for that channel alone."""

    option: str
    help: str
    switch: str

    def options(self) -> tuple[Option, ...]:
        return (Option(self.option, app_commands.AppCommandChannel, self.help),)

    def apply(self, current: Any, given: Mapping[str, Any]) -> Any:
        channel, on = given.get(self.option), given.get(self.switch)
        if channel is None or on is None:
            return KEEP
        others = set(current) - {channel.id}
        return tuple(sorted((others | {channel.id}) if on else others))

    def load(self, raw: Any) -> tuple[int, ...]:
        return _channel_ids(raw)

    def dump(self, value: Any) -> Any:
        return list(value)


Show = Callable[[Any, EngineConfig], str]  # (the resolved settings, the engine) -> shown value


@dataclass(frozen=True)
class Setting:
    kind: Kind
    default: Any  # when the server has not set it
    config: str | None  # ... or the DiscordConfig field of this name
    label: str | None  # its line in /dreamconfig's answer; None: shown on another's line
    show: Show | None


def setting(
    kind: Kind,
    *,
    default: Any = None,
    config: str | None = None,
    label: str | None = None,
    show: Show | None = None,
) -> Any:
    """Declare a server setting: use as a `GuildSettings` field's value."""
    spec = Setting(kind, default, config, label, show)
    initial = DiscordConfig.model_fields[config].default if config else default
    return dataclasses.field(default=initial, metadata={_SETTING: spec})


def declared(cls: type) -> tuple[tuple[str, Setting], ...]:
    """The settings `cls` declares, by name, in order."""
    return tuple(
        (f.name, f.metadata[_SETTING]) for f in dataclasses.fields(cls) if _SETTING in f.metadata
    )


def _declaration(cls: type, name: str) -> Setting:
    found = dict(declared(cls)).get(name)
    if found is None:
        raise ValueError(f"{name!r} is not a server setting")
    return found


def defaults(cls: type, config: DiscordConfig) -> dict[str, Any]:
    return {
        name: getattr(config, spec.config) if spec.config else spec.default
        for name, spec in declared(cls)
    }


def loaded(cls: type, stored: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Stored JSON as setting values, and the values that are not valid (name -> why): those are
    left out, so their default applies. Keys no declaration names are left out silently."""
    values: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    for name, spec in declared(cls):
        if name in stored:
            try:
                values[name] = spec.kind.load(stored[name])
            except ValueError as err:
                invalid[name] = str(err)
    return values, invalid


def dumped(cls: type, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Changes as stored JSON (None: unset); ValueError for a name or value no setting takes."""
    out: dict[str, Any] = {}
    for name, value in changes.items():
        kind = _declaration(cls, name).kind
        out[name] = None if value is None else kind.dump(kind.load(kind.dump(value)))
    return out


def changes_from_options(settings: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """What /dreamconfig's options change in these (resolved) settings."""
    changes = {}
    for name, spec in declared(type(settings)):
        value = spec.kind.apply(getattr(settings, name), given)
        if value is not KEEP:
            changes[name] = value
    return changes


def shown(settings: Any, engine: EngineConfig) -> list[tuple[str, str]]:
    """/dreamconfig's answer as (label, value) lines."""
    return [
        (spec.label, spec.show(settings, engine))
        for _, spec in declared(type(settings))
        if spec.label and spec.show
    ]


def options(cls: type) -> tuple[Option, ...]:
    return tuple(option for _, spec in declared(cls) for option in spec.kind.options())


def slash_options(cls: type) -> Callable[[F], F]:
    """Give a command callback `(self, interaction, **given)` one optional slash option per
    declared option: discord.py reads a command's options from its callback's signature."""

    def decorate(func: F) -> F:
        signature = inspect.signature(func)
        head = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        tail = [
            inspect.Parameter(
                option.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=option.annotation | None,
            )
            for option in options(cls)
        ]
        setattr(func, "__signature__", signature.replace(parameters=[*head, *tail]))  # noqa: B010
        return app_commands.describe(**{option.name: option.help for option in options(cls)})(func)

    return decorate
