"""Every message between the pool and a worker, typed once (both directions), and job ids.

Only these cross the process boundary: small frozen dataclasses of plain data (pydantic models
for the request, progress and result), so they pickle, and each side matches on the type:

  pool -> worker:  Run | Cancel | Stop
  worker -> pool:  Ready | StartFailed | Progress | Done | Failed
  link -> pool:    Died  (the process is gone; made by the parent, never sent)

A distributed backend speaks the same messages, so one handler contract serves both.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from dreamcore.errors import DreamError, error_from_code
from dreamcore.request import DreamProgress, DreamRequest, DreamResult


def new_job_id() -> str:
    """The one place job ids are made: short, unique enough for a ledger and a log line."""
    return uuid.uuid4().hex[:12]


# --- pool -> worker ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    job_id: str
    request: DreamRequest
    timeout_s: float  # the worker's own backstop; the pool's timer normally fires first


@dataclass(frozen=True)
class Cancel:
    job_id: str


@dataclass(frozen=True)
class Stop:
    """Finish the current job (if any), then exit."""


ToWorker = Run | Cancel | Stop


# --- worker -> pool ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ready:
    pid: int


@dataclass(frozen=True)
class StartFailed:
    code: str
    message: str

    def error(self) -> DreamError:
        return error_from_code(self.code, self.message)


@dataclass(frozen=True)
class Progress:
    job_id: str
    progress: DreamProgress

    def keeping_preview_of(self, older: Progress) -> Progress:
        return Progress(self.job_id, self.progress.keeping_preview_of(older.progress))


@dataclass(frozen=True)
class Done:
    job_id: str
    result: DreamResult


@dataclass(frozen=True)
class Failed:
    job_id: str
    code: str  # a DreamError code; rebuilt on the pool's side with error_from_code
    message: str

    @classmethod
    def of(cls, job_id: str, err: DreamError) -> Failed:
        return cls(job_id, err.code, str(err))

    def error(self) -> DreamError:
        return error_from_code(self.code, self.message)


FromWorker = Ready | StartFailed | Progress | Done | Failed
JobMessage = Progress | Done | Failed  # about one job


# --- parent-side only ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Died:
    exitcode: int | None
