"""`dreambot sandbox`: check the models, start the sandbox, print its address, run until Ctrl-C."""

from __future__ import annotations

import asyncio
import sys

from bot.logs import setup_logging
from bot.settings import Settings


def say(text: str) -> None:
    print(text, flush=True)


async def sandbox_main(settings: Settings) -> int:
    from sandbox.models import probe
    from sandbox.session import Sandbox

    say("dreambot sandbox: checking which models have their weights on this machine…")
    report = await probe(settings.engine)
    for line in report.lines():
        say(f"  {line}")
    if not report.available:
        say(
            "error: no enabled model can dream here. Get one with `dreambot fetch-weights NAME` "
            "(see above), then start the sandbox again."
        )
        return 2
    sandbox = Sandbox(settings, report)
    try:
        await sandbox.start()
    except OSError as err:
        say(
            f"error: cannot serve the page on 127.0.0.1:{sandbox.port} ({err.strerror or err}). "
            "Set DREAMBOT_SANDBOX__PORT to another port (0 = any free one)."
        )
        return 2
    try:
        say(f"dreambot sandbox: open {sandbox.url}  (no Discord account needed; Ctrl-C stops)")
        code = await sandbox.wait()
        if code:
            say(f"the bot stopped (exit {code}); see the log above")
        return code
    finally:
        await sandbox.stop()


def run_sandbox(settings: Settings) -> int:
    setup_logging(settings)
    try:
        return asyncio.run(sandbox_main(settings))
    except KeyboardInterrupt:  # Ctrl-C before the bot took over the signals
        print(file=sys.stderr)
        return 0
