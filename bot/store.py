"""The bot's persistent state in one SQLite file: guild settings, quota rules, the usage ledger.

Writes go through one connection owned by one thread (sqlite3 connections are not to be shared
between threads, and one writer serialises them): every call is `async`, so the event loop never
blocks on disk. Read-modify-write (quota reservation) runs as a function inside `BEGIN IMMEDIATE`
through `Store.transaction`, so it is atomic even if another process shares the file.

Reads that must stay fast (a quota check before acknowledging an interaction) go through
`Store.read` on a second, read-only connection and thread: in WAL mode readers never wait for a
writer, so a write stuck behind a lock cannot delay them. Times are Unix seconds (float, UTC).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

T = TypeVar("T")

Scope = Literal["server", "role", "user"]
Source = Literal["slash", "context", "reaction", "button"]
Status = Literal["reserved", "running", "done", "failed", "cancelled", "lost"]
IN_FLIGHT: tuple[Status, ...] = ("reserved", "running")

# Ordered migrations; entry i brings the schema to user_version i + 1. Append, never edit.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE guild_settings (
            guild_id INTEGER PRIMARY KEY,
            allowed_channel_ids TEXT NOT NULL DEFAULT '[]',  -- JSON list; empty = everywhere
            max_side INTEGER,                                -- NULL = config default
            reaction_redream INTEGER,                        -- NULL = config default (bool)
            reaction_emoji TEXT,                             -- NULL = config default
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE quota_rules (
            guild_id INTEGER NOT NULL,
            scope TEXT NOT NULL CHECK (scope IN ('server', 'role', 'user')),
            target_id INTEGER NOT NULL,    -- guild id for 'server', else the role or user id
            daily INTEGER CHECK (daily >= 0),            -- NULL = not set here, 0 = unlimited
            concurrent INTEGER CHECK (concurrent >= 0),  -- NULL = not set here, 0 = unlimited
            updated_at REAL NOT NULL,
            PRIMARY KEY (guild_id, scope, target_id)
        )""",
        """CREATE TABLE ledger (
            job_id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL,
            guild_id INTEGER,              -- NULL for DMs
            channel_id INTEGER NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('slash', 'context', 'reaction', 'button')),
            model TEXT NOT NULL,
            layer TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL CHECK (status IN
                ('reserved', 'running', 'done', 'failed', 'cancelled', 'lost')),
            error TEXT,
            cost INTEGER NOT NULL DEFAULT 0 CHECK (cost IN (0, 1)),  -- 1 only when done
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            queue_s REAL,
            run_s REAL,
            notify_channel_id INTEGER,     -- where to tell the user later (e.g. after a restart)
            notify_message_id INTEGER
        )""",
        "CREATE INDEX ledger_user ON ledger (user_id, guild_id, created_at)",
        "CREATE INDEX ledger_guild ON ledger (guild_id, created_at)",
        "CREATE INDEX ledger_status ON ledger (status)",
    ),
    (
        # Jobs have a price in dreams (`units`: an animation costs more than a still) and
        # `cost` becomes it when done; the result is remembered (history) with its seed.
        # SQLite can't change a CHECK in place: the table is rebuilt, every row kept.
        """CREATE TABLE ledger_v2 (
            job_id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL,
            guild_id INTEGER,
            channel_id INTEGER NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('slash', 'context', 'reaction', 'button')),
            model TEXT NOT NULL,
            layer TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL CHECK (status IN
                ('reserved', 'running', 'done', 'failed', 'cancelled', 'lost')),
            error TEXT,
            cost INTEGER NOT NULL DEFAULT 0 CHECK (cost >= 0),  -- units when done, else 0
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            queue_s REAL,
            run_s REAL,
            notify_channel_id INTEGER,
            notify_message_id INTEGER,
            units INTEGER NOT NULL DEFAULT 1 CHECK (units >= 1),  -- the job's price in dreams
            seed INTEGER,                  -- the seed the dream used
            result_channel_id INTEGER,     -- where the result was posted
            result_message_id INTEGER
        )""",
        """INSERT INTO ledger_v2 (job_id, user_id, guild_id, channel_id, source, model, layer,
            params, status, error, cost, created_at, started_at, finished_at, queue_s, run_s,
            notify_channel_id, notify_message_id)
           SELECT job_id, user_id, guild_id, channel_id, source, model, layer, params, status,
            error, cost, created_at, started_at, finished_at, queue_s, run_s, notify_channel_id,
            notify_message_id FROM ledger""",
        "DROP TABLE ledger",
        "ALTER TABLE ledger_v2 RENAME TO ledger",
        "CREATE INDEX ledger_user ON ledger (user_id, guild_id, created_at)",
        "CREATE INDEX ledger_guild ON ledger (guild_id, created_at)",
        "CREATE INDEX ledger_status ON ledger (status)",
        "ALTER TABLE guild_settings ADD COLUMN max_frames INTEGER",  # NULL = config default
    ),
    (
        # Spoilers: a whole server (NULL = off), or some channels (JSON list).
        "ALTER TABLE guild_settings ADD COLUMN spoiler INTEGER",
        "ALTER TABLE guild_settings ADD COLUMN spoiler_channel_ids TEXT NOT NULL DEFAULT '[]'",
        "CREATE INDEX ledger_results ON ledger (user_id, status, finished_at)",
        "ALTER TABLE ledger ADD COLUMN result_url TEXT",  # a link to the posted result
    ),
    (
        # A server's settings become one JSON object (declared in bot/guilds.py), so a new
        # setting needs no migration. Every stored value is carried over; unset ones (NULL, an
        # empty list or emoji) are left out, as json_patch drops the nulls.
        """CREATE TABLE guild_settings_v4 (
            guild_id INTEGER PRIMARY KEY,
            settings TEXT NOT NULL DEFAULT '{}',  -- JSON object: name -> value, only those set
            updated_at REAL NOT NULL
        )""",
        """INSERT INTO guild_settings_v4 (guild_id, settings, updated_at)
           SELECT guild_id, json_patch('{}', json_object(
               'allowed_channel_ids', json(NULLIF(allowed_channel_ids, '[]')),
               'max_side', max_side,
               'reaction_redream', json(CASE WHEN reaction_redream IS NULL THEN NULL
                   WHEN reaction_redream THEN 'true' ELSE 'false' END),
               'reaction_emoji', NULLIF(reaction_emoji, ''),
               'max_frames', max_frames,
               'spoiler', json(CASE WHEN spoiler IS NULL THEN NULL
                   WHEN spoiler THEN 'true' ELSE 'false' END),
               'spoiler_channel_ids', json(NULLIF(spoiler_channel_ids, '[]'))
           )), updated_at FROM guild_settings""",
        "DROP TABLE guild_settings",
        "ALTER TABLE guild_settings_v4 RENAME TO guild_settings",
    ),
]


@dataclass(frozen=True)
class GuildRow:
    """A server's stored settings: only those its admins set, by name, as JSON values (what they
    are is declared in bot/guilds.py; the store only keeps them)."""

    guild_id: int
    values: Mapping[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0


@dataclass(frozen=True)
class QuotaRule:
    """daily/concurrent: None = not set by this rule (inherit), 0 = unlimited, n = limit."""

    guild_id: int
    scope: Scope
    target_id: int
    daily: int | None = None
    concurrent: int | None = None
    updated_at: float = 0.0


@dataclass(frozen=True)
class LedgerRow:
    job_id: str
    user_id: int
    guild_id: int | None
    channel_id: int
    source: Source
    model: str
    layer: str
    params: dict[str, Any] = field(default_factory=dict)
    status: Status = "reserved"
    error: str | None = None
    cost: int = 0
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    queue_s: float | None = None
    run_s: float | None = None
    notify_channel_id: int | None = None
    notify_message_id: int | None = None
    units: int = 1  # the job's price in dreams (an animation costs more)
    seed: int | None = None
    result_channel_id: int | None = None
    result_message_id: int | None = None
    result_url: str | None = None


_LEDGER_COLUMNS = tuple(f.name for f in fields(LedgerRow))


@dataclass(frozen=True)
class Usage:
    """What the quota decides on, read in one snapshot: the server's rules, and how many dreams
    (units: an animation counts for several) one user, and the whole server, spent since a time
    (done rows only: failed, cancelled and lost ones cost nothing) or hold in jobs in flight."""

    guild_id: int | None  # None: DMs, where only the config's per-user defaults apply
    rules: tuple[QuotaRule, ...] = ()
    used: int = 0  # the user's dreams done since then, in this scope
    held: int = 0  # ... held by their jobs in flight
    running: int = 0  # their jobs in flight
    server_used: int = 0  # the whole server's (0 in DMs)
    server_held: int = 0
    server_running: int = 0
    last_request_at: float | None = None  # the user's, in any scope


class Tx:
    """Synchronous helpers for use inside `Store.transaction` (on the store's thread only)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def rules(self, guild_id: int) -> list[QuotaRule]:
        rows = self.conn.execute(
            "SELECT guild_id, scope, target_id, daily, concurrent, updated_at FROM quota_rules "
            "WHERE guild_id = ? ORDER BY scope, target_id",
            (guild_id,),
        )
        return [QuotaRule(*r) for r in rows]

    def count_jobs(
        self,
        *,
        guild_id: int | None,
        user_id: int | None = None,
        statuses: Sequence[Status],
        created_since: float | None = None,
        units: bool = False,
    ) -> int:
        """Rows in one scope (a guild, or DMs when guild_id is None), optionally one user's;
        with `units`, the sum of their prices instead of their number."""
        what = "COALESCE(SUM(units), 0)" if units else "COUNT(*)"
        sql = f"SELECT {what} FROM ledger WHERE status IN ({','.join('?' * len(statuses))})"
        args: list[Any] = list(statuses)
        sql += " AND guild_id IS ?"  # IS: matches NULL for DMs
        args.append(guild_id)
        if user_id is not None:
            sql += " AND user_id = ?"
            args.append(user_id)
        if created_since is not None:
            sql += " AND created_at >= ?"
            args.append(created_since)
        return int(self.conn.execute(sql, args).fetchone()[0])

    def last_request_at(self, user_id: int) -> float | None:
        row = self.conn.execute("SELECT MAX(created_at) FROM ledger WHERE user_id = ?", (user_id,))
        return row.fetchone()[0]

    def usage(self, user_id: int, guild_id: int | None, since: float) -> Usage:
        def spent(**scope: Any) -> tuple[int, int, int]:
            done = self.count_jobs(**scope, statuses=("done",), created_since=since, units=True)
            held = self.count_jobs(**scope, statuses=IN_FLIGHT, units=True)
            return done, held, self.count_jobs(**scope, statuses=IN_FLIGHT)

        used, held, running = spent(guild_id=guild_id, user_id=user_id)
        server = spent(guild_id=guild_id) if guild_id is not None else (0, 0, 0)
        return Usage(
            guild_id,
            tuple(self.rules(guild_id)) if guild_id is not None else (),
            used,
            held,
            running,
            *server,
            last_request_at=self.last_request_at(user_id),
        )

    def insert_job(self, row: LedgerRow) -> None:
        values = [
            json.dumps(v) if k == "params" else v
            for k, v in zip(_LEDGER_COLUMNS, _astuple(row), strict=True)
        ]
        try:
            self.conn.execute(
                f"INSERT INTO ledger ({','.join(_LEDGER_COLUMNS)}) "
                f"VALUES ({','.join('?' * len(_LEDGER_COLUMNS))})",
                values,
            )
        except sqlite3.IntegrityError as err:
            raise ValueError(f"ledger row {row.job_id!r} not inserted: {err}") from None

    def get_job(self, job_id: str) -> LedgerRow | None:
        cur = self.conn.execute(
            f"SELECT {','.join(_LEDGER_COLUMNS)} FROM ledger WHERE job_id = ?", (job_id,)
        )
        row = cur.fetchone()
        return _ledger_row(row) if row else None

    def update_job(self, job_id: str, *, only_if: Sequence[Status], **changes: Any) -> bool:
        """Set columns on a job whose status is in `only_if`; False if no such row."""
        return self._update(job_id, only_if, (), changes)

    def charge_job(self, job_id: str, **changes: Any) -> bool:
        """A job in flight becomes `done` and costs its units; False if it is not in flight."""
        return self._update(job_id, IN_FLIGHT, ("status = 'done'", "cost = units"), changes)

    def in_flight_job_ids(self) -> list[str]:
        marks = ",".join("?" * len(IN_FLIGHT))
        rows = self.conn.execute(f"SELECT job_id FROM ledger WHERE status IN ({marks})", IN_FLIGHT)
        return [job_id for (job_id,) in rows]

    def _update(
        self,
        job_id: str,
        only_if: Sequence[Status],
        fixed: Sequence[str],
        changes: dict[str, Any],
    ) -> bool:
        unknown = set(changes) - set(_LEDGER_COLUMNS)
        if unknown:
            raise ValueError(f"unknown ledger columns: {sorted(unknown)}")
        sets = ", ".join([*fixed, *(f"{k} = ?" for k in changes)])
        cur = self.conn.execute(
            f"UPDATE ledger SET {sets} WHERE job_id = ? "
            f"AND status IN ({','.join('?' * len(only_if))})",
            [*changes.values(), job_id, *only_if],
        )
        return cur.rowcount == 1


def _astuple(row: LedgerRow) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in _LEDGER_COLUMNS)


def _ledger_row(values: Sequence[Any]) -> LedgerRow:
    data = dict(zip(_LEDGER_COLUMNS, values, strict=True))
    data["params"] = json.loads(data["params"] or "{}")
    return LedgerRow(**data)


class Store:
    """Open with `store = await Store.open(path)` (or `async with await Store.open(path)`)."""

    def __init__(self, writer: _Connection, reader: _Connection, path: Path) -> None:
        self._writer = writer
        self._reader = reader
        self.path = path

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout_s: float = 10.0) -> Store:
        path = Path(path).expanduser()  # noqa: ASYNC240 - no disk: reads $HOME
        writer = await _Connection.open(lambda: _connect(path, busy_timeout_s), "store")
        try:
            reader = await _Connection.open(lambda: _connect_reader(path), "store-read")
        except BaseException:
            await writer.close()
            raise
        return cls(writer, reader, path)

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._writer.run(fn)

    async def read(self, fn: Callable[[Tx], T]) -> T:
        """Run a read-only `fn(tx)` on the reader connection (never waits for a writer), in one
        read transaction: its queries see one snapshot, not a charge landing between two."""

        def run(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN")
            try:
                return fn(Tx(conn))
            finally:
                conn.execute("ROLLBACK")  # nothing to keep: it only read

        return await self._reader.run(run)

    async def transaction(self, fn: Callable[[Tx], T]) -> T:
        """Run `fn(tx)` on the writer thread inside BEGIN IMMEDIATE; commit, or roll back on
        error."""

        def run(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(Tx(conn))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await self._run(run)

    async def check_writable(self) -> None:
        """Raise unless the database takes a write (for health checks; nothing is changed).

        A real write is needed: BEGIN IMMEDIATE alone succeeds even on a read-only file."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                conn.execute(f"PRAGMA user_version = {version}")
            finally:
                conn.execute("ROLLBACK")

        await self._run(run)

    # --- guild settings ---

    async def guild_rows(self) -> list[GuildRow]:
        """Every server's stored settings (few rows: only servers whose admins changed any)."""

        def run(conn: sqlite3.Connection) -> list[GuildRow]:
            rows = conn.execute("SELECT guild_id, settings, updated_at FROM guild_settings")
            return [GuildRow(guild_id, json.loads(values), at) for guild_id, values, at in rows]

        return await self._run(run)

    async def save_guild_row(self, row: GuildRow, *, now: float) -> GuildRow:
        """Insert or replace a guild's settings."""
        saved = dataclasses.replace(row, updated_at=now)

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(  # one statement: autocommitted
                "INSERT OR REPLACE INTO guild_settings (guild_id, settings, updated_at) "
                "VALUES (?, ?, ?)",
                (saved.guild_id, json.dumps(dict(saved.values)), saved.updated_at),
            )

        await self._run(run)
        return saved

    # --- quota rules ---

    async def get_rules(self, guild_id: int) -> list[QuotaRule]:
        return await self._run(lambda c: Tx(c).rules(guild_id))

    async def set_rule(self, rule: QuotaRule) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO quota_rules VALUES (?, ?, ?, ?, ?, ?)",
                (
                    rule.guild_id,
                    rule.scope,
                    rule.target_id,
                    rule.daily,
                    rule.concurrent,
                    rule.updated_at,
                ),
            )

        await self._run(run)

    async def delete_rule(self, guild_id: int, scope: Scope, target_id: int) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM quota_rules WHERE guild_id = ? AND scope = ? AND target_id = ?",
                (guild_id, scope, target_id),
            )
            return cur.rowcount > 0

        return await self._run(run)

    # --- ledger ---

    async def get_job(self, job_id: str) -> LedgerRow | None:
        return await self._run(lambda c: Tx(c).get_job(job_id))

    async def read_job(self, job_id: str) -> LedgerRow | None:
        """`get_job` on the reader: never waits for a writer (a button has 3 s to answer)."""
        return await self.read(lambda tx: tx.get_job(job_id))

    async def results(self, user_id: int, limit: int = 10) -> list[LedgerRow]:
        """A user's finished dreams, newest first (for /dreams)."""

        def run(conn: sqlite3.Connection) -> list[LedgerRow]:
            rows = conn.execute(
                f"SELECT {','.join(_LEDGER_COLUMNS)} FROM ledger WHERE user_id = ? AND "
                "status = 'done' ORDER BY finished_at DESC LIMIT ?",
                (user_id, limit),
            )
            return [_ledger_row(r) for r in rows]

        return await self._reader.run(run)

    async def jobs(
        self, *, statuses: Sequence[Status] | None = None, limit: int = 1000
    ) -> list[LedgerRow]:
        """Recent ledger rows, newest first (for admin views and tests)."""

        def run(conn: sqlite3.Connection) -> list[LedgerRow]:
            sql = f"SELECT {','.join(_LEDGER_COLUMNS)} FROM ledger"
            args: list[Any] = []
            if statuses:
                sql += f" WHERE status IN ({','.join('?' * len(statuses))})"
                args.extend(statuses)
            sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
            return [_ledger_row(r) for r in conn.execute(sql, [*args, limit])]

        return await self._run(run)


class _Connection:
    """One sqlite3 connection and the one thread it lives on (sqlite3 objects stay on the thread
    that made them)."""

    def __init__(self, executor: ThreadPoolExecutor, conn: sqlite3.Connection) -> None:
        self._executor = executor
        self._conn: sqlite3.Connection | None = conn

    @classmethod
    async def open(cls, connect: Callable[[], sqlite3.Connection], name: str) -> _Connection:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"dreambot-{name}")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, connect)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(executor, conn)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        if conn is None:
            raise RuntimeError("store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, conn)

    async def close(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)


def _connect_reader(path: Path) -> sqlite3.Connection:
    """A connection that can only read (the writer created and migrated the file already)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0, isolation_level=None)
    conn.execute("PRAGMA query_only = ON")
    return conn


def _connect(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we issue BEGIN/COMMIT ourselves (sqlite3's implicit ones are murky).
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; a crash loses no committed row
        conn.execute("PRAGMA foreign_keys = ON")
        _migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")  # one process migrates at a time
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"the database schema (version {version}) is newer than this bot "
                f"(knows up to {len(MIGRATIONS)}); upgrade the bot"
            )
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            for sql in statements:
                conn.execute(sql)
            conn.execute(f"PRAGMA user_version = {number}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
