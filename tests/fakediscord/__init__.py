"""Loopback Discord double (REST v10 + gateway) that unmodified discord.py connects to.

See server.FakeDiscord for the API; tests/fakediscord/test_*.py for usage with a real bot.
"""

from .records import Callback, InteractionRecord, RequestRecord, UploadedFile
from .server import FakeDiscord

__all__ = ["Callback", "FakeDiscord", "InteractionRecord", "RequestRecord", "UploadedFile"]
