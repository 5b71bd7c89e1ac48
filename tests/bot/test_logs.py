"""Logging: text/JSON formats, structured job fields, and the Discord token never in the output."""

from __future__ import annotations

import io
import json
import logging
import warnings

import pytest
import pytest_asyncio

from bot.logs import REDACTED, Redactor, setup_logging
from bot.settings import DiscordConfig, LogConfig, Settings
from localdiscord import FakeDiscord

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"
# some other bot's token
OTHER = "OTg3NjU0MzIxMDk4NzY1NDMy.Gzyxwv.ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zz"


def log_settings(fmt: str, level: str = "DEBUG", token: str = TOKEN) -> Settings:
    return Settings(discord=DiscordConfig(token=token), log=LogConfig(format=fmt, level=level))


@pytest_asyncio.fixture(loop_scope="module")
async def fake():
    """The local Discord, issuing the token that must never be logged (it takes no other)."""
    async with FakeDiscord(allow_message_content=True, token=TOKEN) as f:
        yield f


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("discord").level
    yield
    root.handlers[:], level, discord_level = saved
    root.setLevel(level)
    logging.getLogger("discord").setLevel(discord_level)
    logging.captureWarnings(False)


class Leaky:
    def __repr__(self) -> str:
        return f"<Leaky auth={TOKEN}>"


def emit_everything() -> None:
    log = logging.getLogger("some.library")
    log.info("connecting with token %s", TOKEN)
    log.info(f"inline token {TOKEN} and another {OTHER}")
    log.debug("headers %r", {"Authorization": f"Bot {TOKEN}"})
    log.warning("object %r", Leaky())
    log.info("dict args %(t)s", {"t": TOKEN})
    try:
        raise RuntimeError(f"login failed for {TOKEN}")
    except RuntimeError:
        log.exception("boom %s", TOKEN)
    logging.getLogger("discord.gateway").info("identify %s", TOKEN)
    log.info("with stack", stack_info=True, extra={"detail": {"token": TOKEN}})
    warnings.warn(f"warned {TOKEN}", stacklevel=1)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_token_never_appears_in_any_part_of_a_record(fmt, restore_logging):
    out = io.StringIO()
    setup_logging(log_settings(fmt), stream=out)
    emit_everything()
    text = out.getvalue()
    assert TOKEN not in text and OTHER not in text
    assert "GaBcDe" not in text and "abcdefghijklmnopqrstuvwxyz0123456789AB" not in text
    assert text.count(REDACTED) >= 10
    assert "RuntimeError: login failed for [REDACTED]" in text.replace("\\n", "\n")
    if fmt == "json":
        lines = [json.loads(line) for line in text.splitlines()]
        assert {"t", "level", "logger", "msg"} <= set(lines[0])
        assert any("exc" in line for line in lines)


def test_stderr_logging_follows_stderr_when_it_is_swapped(restore_logging, monkeypatch):
    # A CI run failed: a test's captured stderr, closed after it, stayed the root handler's
    # stream, and every later log line printed "--- Logging error ---" with a traceback.
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    setup_logging(log_settings("text"))
    first.close()
    monkeypatch.setattr("sys.stderr", second)
    logging.getLogger("x").warning("still heard")
    assert "still heard" in second.getvalue() and "Logging error" not in second.getvalue()


def test_other_handlers_see_the_redacted_record_too(restore_logging):
    setup_logging(log_settings("text"), stream=io.StringIO())
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    logging.getLogger().addHandler(Collect())
    logging.getLogger("x").error("token %s", TOKEN)
    assert seen == [f"token {REDACTED}"]


def test_text_format_and_levels(restore_logging):
    out = io.StringIO()
    setup_logging(log_settings("text", level="WARNING"), stream=out)
    logging.getLogger("a").info("hidden")
    logging.getLogger("a").warning("shown %d", 3)
    assert "hidden" not in out.getvalue()
    assert out.getvalue().rstrip().endswith("WARNING a: shown 3")


def test_discord_debug_stays_quiet(restore_logging):
    setup_logging(log_settings("text", level="DEBUG"), stream=io.StringIO())
    assert logging.getLogger("discord").getEffectiveLevel() == logging.INFO


def test_json_format_puts_job_fields_in_the_object(restore_logging):
    out = io.StringIO()
    setup_logging(log_settings("json"), stream=out)
    job = {"id": "abc", "status": "done", "user": 1, "queue_s": 0.5}
    logging.getLogger("bot.flow").info("job abc done", extra={"job": job})
    line = json.loads(out.getvalue())
    assert line["job"] == job and line["msg"] == "job abc done" and line["level"] == "INFO"


def test_redactor_leaves_ordinary_text_alone():
    r = Redactor([TOKEN])
    for text in (
        "dream.png 1.5 x 2.0",
        "version 2.7.1",
        "a.b.c",
        "https://cdn.discordapp.com/x/y.png",
        "job 0123456789ab done user=123456789012345678",
    ):
        assert r(text) == text
    assert r(f"x{TOKEN}y") == f"x{REDACTED}y"  # the exact configured token, even glued to text


def test_no_token_configured_still_redacts_token_shapes(restore_logging):
    out = io.StringIO()
    setup_logging(Settings(log=LogConfig(format="text")), stream=out)
    logging.getLogger("x").warning("%s", OTHER)
    assert OTHER not in out.getvalue() and REDACTED in out.getvalue()


# --- end to end: a real bot, logging at DEBUG (discord.py too), started with the token ------------


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.timeout(120)
async def test_bot_run_with_the_token_never_logs_it(fake, pool, tmp_path, restore_logging):
    import asyncio

    from bot.client import DreamBot
    from tests.bot.conftest import dream, finished_result, make_settings

    settings = make_settings(
        fake,
        tmp_path / "t.sqlite3",
        discord={"token": TOKEN},
        log=LogConfig(format="json", level="DEBUG"),
    )
    out = io.StringIO()
    setup_logging(settings, stream=out)
    logging.getLogger("discord").setLevel(
        logging.DEBUG
    )  # the firehose too: it must not leak either
    bot = DreamBot(settings, backend=pool)
    task = asyncio.create_task(bot.start(TOKEN))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 60)
        alice = fake.add_member(name="alice")
        await finished_result(await dream(fake, alice))
        for _ in range(100):  # the job line is written just after the upload
            if '"job": {' in out.getvalue():
                break
            await asyncio.sleep(0.05)
    finally:
        await bot.close()
        await asyncio.wait_for(task, 15)
    text = out.getvalue()
    assert TOKEN not in text and "abcdefghijklmnopqrstuvwxyz0123456789AB" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(line["logger"].startswith("discord") for line in lines)
    job = next(line["job"] for line in lines if "job" in line)
    assert (
        job["status"] == "done"
        and job["model"] == "tiny"
        and job["user"] == int(alice["user"]["id"])
    )
    assert {"id", "guild", "source", "layer", "size", "queue_s", "run_s"} <= set(job)
