"""`dreambot`: run the bot, try it in a local sandbox, dream a file, list models, fetch weights."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError


def build_parser() -> argparse.ArgumentParser:
    from dreamcore.cli import add_dream_arguments

    parser = argparse.ArgumentParser(prog="dreambot", description="DeepDream Discord bot")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the Discord bot (token from DREAMBOT_DISCORD__TOKEN)")
    sub.add_parser(
        "sandbox", help="try the bot on a local page that works like a Discord channel (no token)"
    )
    add_dream_arguments(sub.add_parser("dream", help="dream an image file"))
    models = sub.add_parser("models", help="list models and their layers")
    models.add_argument("--all", action="store_true", help="every branch and pre-ReLU tensor")
    fetch = sub.add_parser("fetch-weights", help="download model weights ahead of time")
    fetch.add_argument("models", nargs="*", help="models (default: every enabled one)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from bot.settings import load_settings

    try:
        settings = load_settings()
    except (ValidationError, ValueError) as err:
        print(f"error: bad configuration: {err}", file=sys.stderr)
        return 2
    if args.command == "run":
        from bot.runner import run_bot

        return run_bot(settings)
    if args.command == "sandbox":
        from sandbox.command import run_sandbox

        return run_sandbox(settings)
    from dreamcore import cli

    if args.command == "dream":  # a link is fetched with the bot's limits and allowed hosts
        intake = settings.intake
        return cli.run_dream(
            args, settings.engine, limits=intake.limits(), link_hosts=intake.url_allowed_hosts
        )
    handlers = {
        "models": cli.run_models,
        "fetch-weights": cli.run_fetch_weights,
    }
    return handlers[args.command](args, settings.engine)


if __name__ == "__main__":
    sys.exit(main())
