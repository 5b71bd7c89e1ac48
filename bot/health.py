"""The health and metrics HTTP endpoint (aiohttp), owned by DreamBot (started in setup_hook,
stopped in close).

GET /healthz  200 {"status":"ok","gateway":true,"workers_alive":N,"database":true}
              503 with the same fields when the gateway is down, no worker is alive or the
              database cannot be written; "status" is then "unhealthy", and while no worker
              is alive "workers_down_s" says for how long (queued dreams fail after
              pool.no_worker_grace_s).
GET /metrics  Prometheus text format.

The checks take the client (is_closed(), is_ready(), ws), the backend (stats()) and the store
(check_writable()) as they are at each request, so they can be tested with stubs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from bot.metrics import BotMetrics

log = logging.getLogger(__name__)
DB_TIMEOUT_S = 3.0


async def database_writable(store: Any, timeout: float = DB_TIMEOUT_S) -> bool:
    if store is None:
        return False
    try:
        await asyncio.wait_for(store.check_writable(), timeout)
    except Exception as err:  # noqa: BLE001 - any failure means "not writable"
        log.warning("health: database not writable: %r", err)
        return False
    return True


def gateway_connected(bot: Any) -> bool:
    ws = getattr(bot, "ws", None)
    return bool(not bot.is_closed() and bot.is_ready() and ws is not None and ws.open)


def workers(backend: Any) -> tuple[int, float | None]:
    """(workers alive, seconds since none was) from the backend's stats."""
    if backend is None:
        return 0, None
    try:
        stats = backend.stats()
    except Exception:
        log.exception("health: backend.stats() failed")
        return 0, None
    down = getattr(stats, "workers_down_s", None)
    return int(stats.workers_alive), (round(down, 1) if down is not None else None)


async def health(client: Any, backend: Any, store: Any) -> tuple[bool, dict[str, Any]]:
    gateway = gateway_connected(client)
    alive, down_s = workers(backend)
    database = await database_writable(store)
    ok = gateway and alive > 0 and database
    body: dict[str, Any] = {
        "status": "ok" if ok else "unhealthy",
        "gateway": gateway,
        "workers_alive": alive,
        "database": database,
    }
    if down_s is not None:  # queued dreams fail once this passes pool.no_worker_grace_s
        body["workers_down_s"] = down_s
    return ok, body


class HealthServer:
    """`services` is read at each request (its backend and store), so what it checks is live."""

    def __init__(
        self,
        client: Any,
        services: Any,
        metrics: BotMetrics,
        host: str = "127.0.0.1",
        port: int = 9108,
    ) -> None:
        self.client, self.services, self.metrics = client, services, metrics
        self.host, self._port = host, port
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The bound port (the real one when configured with 0), once started."""
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._port).start()
        except OSError:
            await runner.cleanup()
            log.error(
                "health: cannot listen on %s:%s (health.port / DREAMBOT_HEALTH__PORT)",
                self.host,
                self._port,
            )
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]
        log.info("health and metrics on %s (/healthz, /metrics)", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        ok, body = await health(self.client, self.services.backend, self.services.store)
        return web.json_response(body, status=200 if ok else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        body, content_type = self.metrics.render()
        resp = web.Response(body=body)
        resp.headers["Content-Type"] = content_type  # includes version and charset
        return resp
