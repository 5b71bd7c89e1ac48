"""bot.errors.user_message: one friendly sentence per error, no internals."""

from __future__ import annotations

import pytest

from bot.errors import (
    DownloadFailed,
    NoImageFound,
    NotAllowedHere,
    NotPermitted,
    QuotaExceeded,
    user_message,
)
from dreamcore.errors import (
    DreamCancelled,
    DreamError,
    InvalidImage,
    InvalidParams,
    JobTimeout,
    OutOfMemory,
    PoolClosed,
    QueueFull,
    UnknownLayer,
    WeightsUnavailable,
    WorkerCrashed,
)


@pytest.mark.parametrize(
    "cls",
    [
        QuotaExceeded,
        DownloadFailed,
        NoImageFound,
        NotAllowedHere,
        NotPermitted,
        InvalidImage,
        InvalidParams,
        UnknownLayer,
    ],
)
def test_user_facing_errors_show_their_message(cls):
    assert issubclass(cls, DreamError)
    assert (
        user_message(cls("You've used your 20 dreams for today."), job_id="abc")
        == "You've used your 20 dreams for today."
    )


def test_queue_full_mentions_waiting_count():
    assert user_message(QueueFull(waiting=32)) == (
        "The dream queue is full right now (32 waiting); try again in a few minutes."
    )
    assert (
        user_message(QueueFull())
        == "The dream queue is full right now; try again in a few minutes."
    )


@pytest.mark.parametrize(
    "err,expected",
    [
        (JobTimeout("job exceeded 600.0 s"), "took too long"),
        (WorkerCrashed("worker pid 4242 exited with -11 at /opt/dreambot/x.py"), "crashed"),
        (OutOfMemory("CUDA out of memory. Tried to allocate 2.00 GiB"), "Not enough memory"),
        (
            WeightsUnavailable("download https://x/weights.pth into /root/.cache failed"),
            "model isn't available",
        ),
        (PoolClosed("pool closed"), "restarting"),
        (DreamCancelled("cancelled by user"), "Dream cancelled."),
    ],
)
def test_infrastructure_errors_get_fixed_sentences(err, expected):
    text = user_message(err, job_id="abc123")
    assert expected in text
    assert str(err) not in text  # operator detail (paths, pids, URLs) stays out


def test_crash_and_oom_carry_job_reference():
    assert "(job `abc123`)" in user_message(WorkerCrashed("x"), job_id="abc123")
    assert "(job `abc123`)" in user_message(OutOfMemory("x"), job_id="abc123")


@pytest.mark.parametrize(
    "err",
    [
        RuntimeError("token=MTIz.secret at /home/bot/.env"),
        KeyError("DREAMBOT_DISCORD__TOKEN"),
        ValueError("Traceback (most recent call last): ..."),
        KeyboardInterrupt(),
    ],
)
def test_unexpected_errors_leak_nothing(err):
    assert user_message(err, job_id="abc123") == "Something went wrong on our side (job `abc123`)."
    assert user_message(err) == "Something went wrong on our side."


def test_empty_or_oversized_dream_error_falls_back():
    assert user_message(DreamError(""), job_id="j") == "Something went wrong on our side (job `j`)."
    assert user_message(InvalidImage("x" * 5000)) == "Something went wrong on our side."
    assert user_message(InvalidImage("Traceback (most recent call last):\n  File ...")).startswith(
        "Something went wrong"
    )
