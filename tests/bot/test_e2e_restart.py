"""A crash in the middle of load: the bot runs as a real process (`python -m dreambot run`) against
a FakeDiscord in this test; it is SIGKILLed (with its pool workers) while dreams are queued and
running, then started again on the same store.

After the restart: no ledger row is left reserved/running (the lost ones are `lost`, cost 0), nobody
is charged for them, each affected user is told in the channel (mentioned) that the dream was lost
and not counted, a new /dream works, and no process of either run is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_asyncio

from localdiscord.server import FakeDiscord
from tests.bot.conftest import has_file, png_bytes
from tests.gates import HANDLER as GATED_HANDLER
from tests.gates import Gate

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
SLOW = {"octaves": 2, "steps": 3, "size": 256, "seed": 1}  # with gate.png: held mid-dream
FAST = {"octaves": 1, "steps": 2, "size": 64}


# --- processes ------------------------------------------------------------------------------------


def session_pids(sid: int) -> dict[int, str]:
    """Live (non-zombie) processes of session `sid`, from /proc: pid -> command line."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            state, session = fields[0], int(fields[3])
            if session == sid and state != "Z":
                cmd = (
                    Path(f"/proc/{entry}/cmdline")
                    .read_bytes()
                    .replace(b"\0", b" ")
                    .decode(errors="replace")
                )
                out[int(entry)] = cmd.strip()
        except (OSError, ValueError):
            continue  # gone meanwhile
    return out


async def wait_gone(pids, timeout: float) -> set[int]:
    """Wait until none of `pids` is alive (zombies count as gone); returns the ones still alive."""
    deadline = time.monotonic() + timeout
    while True:
        alive = set()
        for pid in pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()  # noqa: ASYNC240 - procfs: no disk
                if stat.split(") ")[-1][0] != "Z":
                    alive.add(pid)
            except OSError:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        await asyncio.sleep(0.1)


class BotProcess:
    """`python -m dreambot run` in its own session (session id = its pid) with the given env."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dreambot", "run"],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def processes(self) -> dict[int, str]:
        return session_pids(self.pid)

    async def wait_exit(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        # a child process has no awaitable exit here (Popen): poll it
        while self.proc.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        return self.proc.poll()

    def killpg(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def tail(self, n: int = 4000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-n:]
        return ""

    def close(self) -> None:
        if self.proc is not None:
            self.killpg()
            with contextlib.suppress(Exception):
                self.proc.wait(10)
        with contextlib.suppress(Exception):
            self.log.close()


def bot_env(fake: FakeDiscord, store: Path, gate: Gate) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DREAMBOT_")}
    env.update(
        DREAMBOT_POOL__HANDLER=GATED_HANDLER,  # dreams of gated images wait for the test
        DREAMBOT_DISCORD__TOKEN=fake.token,
        DREAMBOT_DISCORD__API_BASE=fake.api_base,
        DREAMBOT_DISCORD__GATEWAY_URL=fake.gateway_url,
        DREAMBOT_DISCORD__PROGRESS_INTERVAL_S="0.5",
        DREAMBOT_STORE__PATH=str(store),
        DREAMBOT_ENGINE__DEVICE="cpu",
        DREAMBOT_ENGINE__MODELS='["tiny"]',
        DREAMBOT_ENGINE__MODEL_PLUGINS='["tests.tiny_model"]',
        DREAMBOT_ENGINE__DEFAULT_MODEL="tiny",
        DREAMBOT_ENGINE__MAX_SIDE_CAP="256",
        DREAMBOT_POOL__WARM_MODELS='["tiny"]',
        DREAMBOT_POOL__CPU_WORKERS="1",
        DREAMBOT_POOL__WORKERS="1",
        DREAMBOT_POOL__THREADS_PER_WORKER="1",
        DREAMBOT_POOL__SHUTDOWN_TIMEOUT_S="5",
        DREAMBOT_INTAKE__ALLOWED_HOSTS='["127.0.0.1"]',
        DREAMBOT_HEALTH__ENABLED="false",
        DREAMBOT_LOG__LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


def ledger(store: Path) -> list[dict]:
    """The ledger as the bot left it, read with a separate connection (WAL allows it)."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM ledger ORDER BY created_at")]
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        conn.close()


async def poll(predicate, timeout: float, what: str, on_fail=lambda: ""):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{on_fail()}")
        await asyncio.sleep(0.1)


async def started(
    fake: FakeDiscord, bot: BotProcess, identifies_before: int, timeout: float = 120
) -> None:
    """Until the process has identified on the fake gateway (it synced its commands before that)."""
    await poll(
        lambda: len(fake.identifies) > identifies_before or bot.proc.poll() is not None,
        timeout,
        "the bot to connect",
        bot.tail,
    )
    assert bot.proc.poll() is None, f"bot exited with {bot.proc.returncode}\n{bot.tail()}"


@pytest_asyncio.fixture(loop_scope="module")
async def fake():
    async with FakeDiscord(allow_message_content=True) as f:
        yield f


@pytest.fixture
def gate(tmp_path):
    g = Gate(tmp_path)
    yield g
    g.close()


# --- the test -------------------------------------------------------------------------------------


async def test_sigkill_mid_load_then_restart_settles_the_ledger_and_tells_users(
    fake, tmp_path, gate
):
    store = tmp_path / "bot.sqlite3"
    env = bot_env(fake, store, gate)
    first = BotProcess(env, tmp_path / "first.log")
    second = BotProcess(env, tmp_path / "second.log")
    try:
        # --- run 1: four users ask for slow dreams; one worker, so one runs and three queue -----
        channels = [fake.channel, fake.add_channel("dreams-2")]  # users ask in two channels
        first.start()
        await started(fake, first, 0)
        users = [fake.add_member(name=f"user{i}") for i in range(4)]
        recs = []
        for i, user in enumerate(users):
            recs.append(
                await fake.slash_command(
                    "dream",
                    SLOW,
                    user=user,
                    channel=channels[i % 2],
                    attachments={"image": ("in.png", gate.png(256, seed=i), "image/png")},
                )
            )
        for rec in recs:
            cb = await rec.wait_for_callback(15)
            assert cb.type == 5, first.tail()

        def busy():
            rows = ledger(store)
            return len(rows) == len(users) and any(r["status"] == "running" for r in rows) and rows

        await poll(busy, 60, "4 reserved jobs, one running", first.tail)
        before_kill = first.processes()
        assert first.pid in before_kill and len(before_kill) >= 2, (
            before_kill
        )  # the bot + its worker(s)

        # --- the crash ---------------------------------------------------------------------------
        first.killpg(signal.SIGKILL)
        assert await first.wait_exit(10) == -signal.SIGKILL
        leftover = await wait_gone(before_kill, 10)
        assert not leftover, f"processes of the killed bot survived: {leftover}"
        rows = ledger(store)
        done_before = {r["job_id"] for r in rows if r["status"] == "done"}
        in_flight = {r["job_id"]: r for r in rows if r["status"] in ("reserved", "running")}
        assert in_flight, f"nothing was in flight when the bot was killed: {rows}"
        assert any(r["status"] == "running" for r in in_flight.values()) and len(in_flight) >= 2, (
            rows
        )
        assert len({r["channel_id"] for r in in_flight.values()}) == 2, (
            rows
        )  # both channels affected

        # --- run 2: same store --------------------------------------------------------------------
        seen = {m["id"] for c in channels for m in fake.messages_in(c["id"])}
        second.start()
        await started(fake, second, len(fake.identifies))
        after = {r["job_id"]: r for r in ledger(store)}
        assert not [r for r in after.values() if r["status"] in ("reserved", "running")], after
        for job_id in in_flight:
            assert after[job_id]["status"] == "lost" and after[job_id]["cost"] == 0, after[job_id]
        for job_id in done_before:
            assert after[job_id]["status"] == "done" and after[job_id]["cost"] == 1

        # each affected user is told, mentioned, in the channel where they asked
        def notices():
            return [
                m
                for c in channels
                for m in fake.messages_in(c["id"])
                if m["id"] not in seen and "lost" in (m.get("content") or "")
            ]

        await poll(
            lambda: len(notices()) >= len(in_flight),
            20,
            "a lost-dream notice per lost job",
            second.tail,
        )
        texts = [m["content"] for m in notices()]
        assert len(texts) == len(in_flight), texts
        for job_id, row in in_flight.items():
            text = next((t for t in texts if job_id in t), None)
            assert text is not None, (job_id, texts)
            assert f"<@{row['user_id']}>" in text and "lost" in text and "not counted" in text, text
        for m in notices():
            assert m["channel_id"] == str(
                in_flight[next(j for j in in_flight if j in m["content"])]["channel_id"]
            )

        # nobody is charged for a lost dream: only done rows cost, and only they count
        charged = {}
        for r in after.values():
            charged[r["user_id"]] = charged.get(r["user_id"], 0) + r["cost"]
        for r in in_flight.values():
            own_done = sum(1 for j in done_before if after[j]["user_id"] == r["user_id"])
            assert charged.get(r["user_id"], 0) == own_done, (r, charged)

        # --- a new /dream after the restart works and is charged once ---------------------------
        newcomer = users[0]
        rec = await fake.slash_command(
            "dream",
            FAST,
            user=newcomer,
            attachments={"image": ("in.png", png_bytes(80, seed=9), "image/png")},
        )
        await rec.wait_for_callback(15)
        await rec.wait_until(lambda r: any(has_file(m) for m in r.messages), 60)
        await poll(
            lambda: [
                r for r in ledger(store) if r["job_id"] not in after and r["status"] == "done"
            ],
            20,
            "the new dream to be charged",
            second.tail,
        )
        assert not [r for r in ledger(store) if r["status"] in ("reserved", "running")]

        # --- graceful stop: every process of the second run goes away -----------------------------
        procs = second.processes()
        assert len(procs) >= 2, procs
        second.killpg(signal.SIGTERM)
        code = await second.wait_exit(45)
        assert code == 0, f"exit code {code}\n{second.tail()}"
        leftover = await wait_gone(procs, 15)
        assert not leftover, f"processes left after a clean stop: {leftover}"
        assert not session_pids(first.pid) and not session_pids(second.pid)
    finally:
        first.close()
        second.close()


async def test_workers_exit_by_themselves_when_only_the_bot_process_is_killed(fake, tmp_path, gate):
    """SIGKILL to the main process only (the OOM killer's way): its workers must not linger."""
    bot = BotProcess(bot_env(fake, tmp_path / "bot.sqlite3", gate), tmp_path / "bot.log")
    try:
        bot.start()
        await started(fake, bot, len(fake.identifies))
        procs = bot.processes()
        workers = {pid for pid, cmd in procs.items() if pid != bot.pid and "multiprocessing" in cmd}
        assert workers, procs
        user = fake.add_member(name="busy")
        rec = await fake.slash_command(
            "dream", SLOW, user=user, attachments={"image": ("in.png", gate.png(256), "image/png")}
        )
        await rec.wait_for_callback(15)
        store = tmp_path / "bot.sqlite3"
        await poll(
            lambda: any(r["status"] == "running" for r in ledger(store)),
            60,
            "a running job",
            bot.tail,
        )
        os.kill(bot.pid, signal.SIGKILL)
        assert await bot.wait_exit(10) == -signal.SIGKILL
        leftover = await wait_gone(set(procs) - {bot.pid}, 20)
        assert not leftover, f"orphans of the killed bot: { {p: procs[p] for p in leftover} }"
    finally:
        bot.close()


@pytest.mark.parametrize(
    "target",
    [
        "main",  # docker stop / kubernetes: SIGTERM to the main process only
        "group",  # systemd KillMode=control-group, `kill -TERM -pgid`: the workers get it too
    ],
)
async def test_sigterm_mid_load_finishes_the_running_dream_and_refunds_the_queued_ones(
    fake, tmp_path, target, gate
):
    """Graceful stop: the running dream is finished and posted, queued ones are refunded (cost 0)
    and their users told; the process exits 0 and leaves no worker behind."""
    store = tmp_path / "bot.sqlite3"
    bot = BotProcess(bot_env(fake, store, gate), tmp_path / "bot.log")
    try:
        bot.start()
        await started(fake, bot, len(fake.identifies))
        users = [fake.add_member(name=f"term{i}") for i in range(3)]
        recs = [
            await fake.slash_command(
                "dream",
                SLOW,
                user=u,
                attachments={"image": ("in.png", gate.png(256, seed=i), "image/png")},
            )
            for i, u in enumerate(users)
        ]
        for rec in recs:
            await rec.wait_for_callback(15)

        def busy():
            rows = ledger(store)
            return len(rows) == 3 and sum(r["status"] == "running" for r in rows) == 1 and rows

        rows = await poll(busy, 60, "3 jobs, one running", bot.tail)
        running_user = next(r["user_id"] for r in rows if r["status"] == "running")
        procs = bot.processes()
        if target == "main":
            os.kill(bot.pid, signal.SIGTERM)
        else:
            bot.killpg(signal.SIGTERM)

        def queued_refunded():
            return sum(r["status"] == "cancelled" for r in ledger(store)) == 2

        await poll(queued_refunded, 30, "the queued dreams refunded", bot.tail)
        gate.release()  # only now may the running dream finish: it must still be posted
        code = await bot.wait_exit(45)
        assert code == 0, f"exit code {code}\n{bot.tail()}"
        assert not await wait_gone(procs, 15), bot.tail()

        final = {r["user_id"]: r for r in ledger(store)}
        assert not [r for r in final.values() if r["status"] in ("reserved", "running")], final
        assert final[running_user]["status"] == "done" and final[running_user]["cost"] == 1, final
        for uid, row in final.items():
            if uid != running_user:
                assert row["status"] == "cancelled" and row["cost"] == 0, row
                assert row["error"] == "pool_closed", row
        for user, rec in zip(users, recs, strict=True):
            uid = int(user["user"]["id"])
            if uid == running_user:
                assert any(has_file(m) for m in rec.messages), rec.messages  # delivered before exit
            else:
                texts = [m.get("content") or "" for m in rec.messages]
                assert any("restarting" in t for t in texts), texts
                assert not any(has_file(m) for m in rec.messages)
    finally:
        bot.close()
