"""Exceptions of the dream core. Every message is written for the person who asked for the dream.

They carry only a message string so that they pickle across the process boundary unchanged.
"""


class DreamError(Exception):
    """Base of every expected failure; `str(err)` is safe to show to a user."""

    code = "dream_error"


class InvalidParams(DreamError):
    code = "invalid_params"


class UnknownModel(InvalidParams):
    code = "unknown_model"


class UnknownLayer(InvalidParams):
    code = "unknown_layer"


class InvalidImage(DreamError):
    code = "invalid_image"


class WeightsUnavailable(DreamError):
    code = "weights_unavailable"


class DreamCancelled(DreamError):
    code = "cancelled"


class JobTimeout(DreamError):
    code = "timeout"


class WorkerCrashed(DreamError):
    code = "worker_crashed"


class QueueFull(DreamError):
    code = "queue_full"

    def __init__(self, message: str = "The dream queue is full.", *, waiting: int | None = None):
        super().__init__(message)
        self.waiting = waiting  # how many dreams wait (for the user's message), when known


class PoolClosed(DreamError):
    code = "pool_closed"


class QueueTimeout(DreamError):
    """Waited in the queue longer than `pool.max_queue_wait_s` without starting."""

    code = "queue_timeout"


class NoWorkers(DreamError):
    """No worker has been alive for `pool.no_worker_grace_s`: queued jobs fail, new ones too."""

    code = "no_workers"


class OutOfMemory(DreamError):
    code = "out_of_memory"


class DownloadFailed(DreamError):
    """An image (an attachment or a link) couldn't be fetched."""

    code = "download_failed"


class LinkRefused(DownloadFailed):
    """A link that is never fetched: not http(s), credentials in it, or not a public address."""

    code = "link_refused"


ERRORS_BY_CODE: dict[str, type[DreamError]] = {}


def _index(cls: type[DreamError]) -> None:
    ERRORS_BY_CODE[cls.code] = cls
    for sub in cls.__subclasses__():
        _index(sub)


_index(DreamError)


def error_from_code(code: str, message: str) -> DreamError:
    """Rebuild an error sent across a process boundary as (code, message)."""
    return ERRORS_BY_CODE.get(code, DreamError)(message)
