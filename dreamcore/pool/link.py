"""One worker process as the parent sees it, plus the two threads that carry its pipe.

The event loop never touches the pipe: a writer thread sends, a reader thread receives and also
waits on the process sentinel, so a worker that dies (SIGKILL, segfault, os._exit, OOM killer) is
noticed the moment the kernel reaps it. Every message, and finally `Died(exitcode)`, is handed to
the loop through `post`.
"""

from __future__ import annotations

import atexit
import queue
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from dreamcore.pool.messages import Died, FromWorker, ToWorker

_LIVE: set[BaseProcess] = set()


@atexit.register
def _kill_leftovers() -> None:
    # Safety net if the owner never closed its pool. Runs before multiprocessing's own atexit hook,
    # which would otherwise join children that wait for our (still open) pipe: a deadlock.
    for process in list(_LIVE):
        process.kill()


class WorkerLink:
    def __init__(
        self,
        process: BaseProcess,
        conn: Connection,
        post: Callable[[WorkerLink, FromWorker | Died], None],
    ) -> None:
        self.process = process
        if process.pid is None:
            raise ValueError("a WorkerLink links a started process")
        self.pid: int = process.pid
        self._conn = conn
        self._post = post
        self._outgoing: queue.SimpleQueue[ToWorker | None] = queue.SimpleQueue()
        self._writer = threading.Thread(
            target=self._write, name=f"pool-send-{self.pid}", daemon=True
        )
        self._reader = threading.Thread(
            target=self._read, name=f"pool-recv-{self.pid}", daemon=True
        )
        _LIVE.add(process)
        self._writer.start()
        self._reader.start()

    def send(self, msg: ToWorker) -> None:
        self._outgoing.put(msg)

    def kill(self) -> None:
        try:
            self.process.kill()
        except (OSError, ValueError):
            pass  # already gone

    def _write(self) -> None:
        while (msg := self._outgoing.get()) is not None:
            try:
                self._conn.send(msg)
            except OSError:
                pass  # the peer is gone; the reader reports it

    def _read(self) -> None:
        try:
            while True:
                ready = wait([self._conn, self.process.sentinel])
                if self._conn not in ready:
                    break  # exited, and nothing is left to read
                try:
                    msg = self._conn.recv()
                except (EOFError, OSError):
                    break
                self._post(self, msg)
        finally:
            self._outgoing.put(None)
            self._writer.join()
            self.process.join(1.0)
            if self.process.exitcode is None:  # closed its pipe but lingers
                self.kill()
                self.process.join()
            self._conn.close()
            _LIVE.discard(self.process)
            self._post(self, Died(self.process.exitcode))
