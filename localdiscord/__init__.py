"""A local Discord (REST v10 + gateway) that unmodified discord.py connects to, on loopback.

It takes only the bot token it issued (`FakeDiscord.token`) and requests from this machine's own
names and origins (access.py): no web page the user visits gets in.
`dreambot sandbox` runs the real bot against it; the tests drive the bot through it. See
server.FakeDiscord for the API, tests/localdiscord/test_*.py for usage with a real bot.
The bot never imports this package, and it imports nothing of the bot (import contracts in
pyproject.toml, run by scripts/test).
"""

from .components import buttons_of
from .records import Callback, InteractionRecord, RequestRecord, UploadedFile, carries_dream
from .server import FakeDiscord

__all__ = [
    "Callback",
    "FakeDiscord",
    "InteractionRecord",
    "RequestRecord",
    "UploadedFile",
    "buttons_of",
    "carries_dream",
]
