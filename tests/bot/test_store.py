"""bot.store: schema migrations, pragmas, rows, transactions; never blocks the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from bot import store as store_mod
from bot.store import GuildRow, LedgerRow, QuotaRule, Store


def schema_version(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def job(job_id: str, **kw) -> LedgerRow:
    base = dict(
        user_id=1,
        guild_id=10,
        channel_id=100,
        source="slash",
        model="inception5h",
        layer="mixed4d",
        params={"steps": 10},
        created_at=1000.0,
    )
    return LedgerRow(job_id=job_id, **{**base, **kw})


async def test_open_creates_folder_and_migrates_empty_db(tmp_path):
    path = tmp_path / "nested" / "dir" / "bot.sqlite3"
    async with await Store.open(path):
        assert schema_version(path) == len(store_mod.MIGRATIONS)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"guild_settings", "quota_rules", "ledger"} <= tables
    conn.close()


async def test_reopen_keeps_data_and_version(tmp_path):
    path = tmp_path / "bot.sqlite3"
    store = await Store.open(path)
    await store.transaction(lambda tx: tx.insert_job(job("a")))
    await store.close()
    async with await Store.open(path) as store:
        assert schema_version(path) == len(store_mod.MIGRATIONS)
        row = await store.get_job("a")
        assert row == job("a")


async def test_later_migration_applies_to_existing_db(tmp_path, monkeypatch):
    path = tmp_path / "bot.sqlite3"
    async with await Store.open(path):
        pass
    monkeypatch.setattr(
        store_mod, "MIGRATIONS", [*store_mod.MIGRATIONS, ("CREATE TABLE extra (x INTEGER)",)]
    )
    async with await Store.open(path):
        assert schema_version(path) == len(store_mod.MIGRATIONS)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM extra").fetchone()[0] == 0
    conn.close()


async def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "bot.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this bot"):
        await Store.open(path)


async def test_pragmas_on_the_connection(tmp_path):
    async with await Store.open(tmp_path / "s.db") as store:
        fk, busy = await store._run(
            lambda c: (
                c.execute("PRAGMA foreign_keys").fetchone()[0],
                c.execute("PRAGMA busy_timeout").fetchone()[0],
            )
        )
    assert fk == 1 and busy >= 1000


async def test_guild_rows_save_and_load(tmp_path):
    async with await Store.open(tmp_path / "s.db") as store:
        assert await store.guild_rows() == []
        # the store keeps a server's settings as JSON; bot.guilds declares what they are
        values = {"allowed_channel_ids": [7, 8], "max_side": 512, "reaction_redream": False}
        row = GuildRow(5, values)
        await store.save_guild_row(row, now=42.0)
        [got] = await store.guild_rows()
        assert got.values["allowed_channel_ids"] == [7, 8] and got.values["max_side"] == 512
        assert got.values["reaction_redream"] is False and "reaction_emoji" not in got.values
        assert got.updated_at == 42.0


async def test_reads_do_not_wait_for_a_writer_holding_the_lock(tmp_path):
    path = tmp_path / "s.db"
    async with await Store.open(path, busy_timeout_s=120.0) as store:
        await store.transaction(lambda tx: tx.insert_job(job("a")))
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            writing = asyncio.ensure_future(store.transaction(lambda tx: tx.insert_job(job("b"))))
            await asyncio.sleep(0)  # the write is now waiting on the store's writer thread
            count = await store.read(lambda tx: tx.count_jobs(guild_id=10, statuses=("reserved",)))
            assert count == 1 and not writing.done()  # answered while the writer waits
        finally:
            other.execute("ROLLBACK")
            other.close()
        await writing
        with pytest.raises(sqlite3.OperationalError):  # the reader really is read-only
            await store.read(lambda tx: tx.insert_job(job("c")))


async def test_read_job_answers_a_button_while_a_writer_holds_the_lock(tmp_path):
    # Issue 21: Deeper and Re-roll read a result's params from its ledger row before the
    # 3-second acknowledgement, so that lookup must not queue behind a write.
    path = tmp_path / "s.db"
    async with await Store.open(path, busy_timeout_s=120.0) as store:
        await store.transaction(lambda tx: tx.insert_job(job("a", params={"octave_scale": 1.8})))
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            writing = asyncio.ensure_future(store.transaction(lambda tx: tx.insert_job(job("b"))))
            await asyncio.sleep(0)  # the write is now waiting on the store's writer thread
            row = await store.read_job("a")
            assert row is not None and row.params == {"octave_scale": 1.8}
            assert await store.read_job("nope") is None
            assert not writing.done()  # answered while the writer waits
        finally:
            other.execute("ROLLBACK")
            other.close()
        await writing


async def test_a_read_sees_one_snapshot_while_a_write_lands(tmp_path):
    # /quota me counts done and in-flight jobs in two queries: a charge committed between them
    # must not make the job vanish from both (it showed a dream as unused).
    path = tmp_path / "s.db"
    async with await Store.open(path) as store:
        await store.transaction(lambda tx: tx.insert_job(job("a")))
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

        def read(tx):
            held = tx.count_jobs(guild_id=10, statuses=("reserved",))
            other.execute("UPDATE ledger SET status = 'done' WHERE job_id = 'a'")  # the charge
            return held, tx.count_jobs(guild_id=10, statuses=("done",))

        try:
            assert await store.read(read) == (1, 0)  # before the charge, consistently
            assert await store.read(read) == (0, 1)  # after it
        finally:
            other.close()


async def test_quota_rules_crud(tmp_path):
    async with await Store.open(tmp_path / "s.db") as store:
        await store.set_rule(QuotaRule(1, "role", 5, daily=3, concurrent=None))
        await store.set_rule(QuotaRule(1, "role", 5, daily=4, concurrent=1))  # replaces
        await store.set_rule(QuotaRule(2, "user", 9, daily=0))
        assert await store.get_rules(1) == [QuotaRule(1, "role", 5, 4, 1)]
        assert await store.delete_rule(1, "role", 5) is True
        assert await store.delete_rule(1, "role", 5) is False
        assert await store.get_rules(1) == []


async def test_checks_reject_bad_values(tmp_path):
    async with await Store.open(tmp_path / "s.db") as store:
        with pytest.raises(sqlite3.IntegrityError):
            await store.set_rule(QuotaRule(1, "planet", 5))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="CHECK constraint"):
            await store.transaction(lambda tx: tx.insert_job(job("x", status="weird")))
        with pytest.raises(ValueError):  # duplicate job id
            await store.transaction(lambda tx: tx.insert_job(job("y")) or tx.insert_job(job("y")))
        assert await store.get_job("y") is None  # the whole transaction rolled back


async def test_update_job_only_if_status(tmp_path):
    async with await Store.open(tmp_path / "s.db") as store:
        await store.transaction(lambda tx: tx.insert_job(job("a")))
        assert await store.transaction(
            lambda tx: tx.update_job("a", only_if=("reserved",), status="running")
        )
        assert not await store.transaction(
            lambda tx: tx.update_job("a", only_if=("reserved",), status="done")
        )
        assert (await store.get_job("a")).status == "running"
        assert [r.job_id for r in await store.jobs(statuses=["running"])] == ["a"]


async def test_calls_run_on_one_store_thread(tmp_path):
    async with await Store.open(tmp_path / "s.db") as store:
        names = await asyncio.gather(
            *(store._run(lambda c: threading.current_thread().name) for _ in range(5))
        )
    assert len(set(names)) == 1 and names[0].startswith("dreambot-store")
    assert names[0] != threading.current_thread().name


async def test_closed_store_refuses(tmp_path):
    store = await Store.open(tmp_path / "s.db")
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await store.get_job("a")


async def test_the_v2_migration_keeps_every_ledger_row(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for sql in store_mod.MIGRATIONS[0]:  # a database written by the first release
        conn.execute(sql)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO ledger (job_id, user_id, guild_id, channel_id, source, model, layer, params,"
        " status, cost, created_at) VALUES ('old', 1, 10, 100, 'slash', 'inception5h', 'mixed4c',"
        " '{}', 'done', 1, 5.0)"
    )
    conn.close()
    async with await Store.open(path) as store:
        [row] = await store.jobs()
        assert (row.job_id, row.status, row.cost, row.units) == ("old", "done", 1, 1)
        assert (await store.guild_rows()) == []
    assert schema_version(path) == len(store_mod.MIGRATIONS)


def a_schema_3_database(path) -> None:
    """A database as the bot wrote it before settings were declared (one column each)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statements in store_mod.MIGRATIONS[:3]:
        for sql in statements:
            conn.execute(sql)
    conn.execute("PRAGMA user_version = 3")
    conn.executemany(
        "INSERT INTO guild_settings (guild_id, allowed_channel_ids, max_side, reaction_redream,"
        " reaction_emoji, updated_at, max_frames, spoiler, spoiler_channel_ids)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (5, "[7, 8]", 512, 0, "🔥", 42.0, 12, 1, "[9]"),  # every setting set
            (6, "[]", None, 1, None, 43.0, None, 0, "[]"),  # some set, some not
            (7, "[]", None, None, "", 44.0, None, None, "[]"),  # none (an emoji of '' was none)
        ],
    )
    conn.close()


async def test_the_v4_migration_carries_every_server_setting_over(tmp_path):
    # Issue 21: settings moved from a column each to one JSON object per server.
    path = tmp_path / "old.sqlite3"
    a_schema_3_database(path)
    async with await Store.open(path) as store:
        rows = {row.guild_id: row for row in await store.guild_rows()}
    assert schema_version(path) == len(store_mod.MIGRATIONS)
    assert rows[5] == GuildRow(
        5,
        {
            "allowed_channel_ids": [7, 8],
            "max_side": 512,
            "reaction_redream": False,
            "reaction_emoji": "🔥",
            "max_frames": 12,
            "spoiler": True,
            "spoiler_channel_ids": [9],
        },
        42.0,
    )
    assert rows[6] == GuildRow(6, {"reaction_redream": True, "spoiler": False}, 43.0)
    assert rows[7] == GuildRow(7, {}, 44.0)


async def test_usage_is_what_a_user_and_their_server_spent_and_hold(tmp_path):
    rows = [
        job("old", status="done", units=2, created_at=500.0),  # before the day began: not used
        job("done", status="done", units=3),
        job("running", status="running", units=2),
        job("failed", status="failed"),  # costs nothing
        job("other", user_id=2, status="done"),  # someone else on the server
        job("dm", guild_id=None, status="reserved", created_at=2000.0),  # the same user, in DMs
    ]
    async with await Store.open(tmp_path / "u.sqlite3") as store:
        await store.set_rule(QuotaRule(10, "server", 10, daily=9))

        def insert(tx):
            for row in rows:
                tx.insert_job(row)

        await store.transaction(insert)
        usage = await store.read(lambda tx: tx.usage(1, 10, since=900.0))
        assert [r.daily for r in usage.rules] == [9]
        assert (usage.used, usage.held, usage.running) == (3, 2, 1)
        assert (usage.server_used, usage.server_held, usage.server_running) == (4, 2, 1)
        assert usage.last_request_at == 2000.0  # any scope: the cooldown is the user's
        dms = await store.read(lambda tx: tx.usage(1, None, since=900.0))
        assert (dms.rules, dms.used, dms.held, dms.running, dms.server_used) == ((), 0, 1, 1, 0)
