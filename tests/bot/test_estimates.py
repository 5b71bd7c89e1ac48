"""bot.estimates: queue waits from the recent runs of each kind of job."""

from bot.estimates import QueueEstimates, kind_of
from dreamcore.request import make_params

SMALL = make_params(model="tiny", max_side=200)
BIG = make_params(model="tiny", max_side=1000)
ZOOM = make_params(model="tiny", max_side=200, animate="zoom", frames=16)


def test_no_history_no_estimate():
    assert QueueEstimates().wait([SMALL], [], workers=1) is None


def test_kinds_are_model_size_and_frames():
    assert kind_of(SMALL) == kind_of(make_params(model="tiny", max_side=256))
    assert kind_of(SMALL) != kind_of(BIG) != kind_of(ZOOM)


def test_the_wait_adds_what_is_ahead_and_what_is_left_of_the_running_jobs():
    est = QueueEstimates()
    for seconds in (9.0, 10.0, 11.0):
        est.record(SMALL, seconds)
    est.record(ZOOM, 60.0)
    assert est.typical(SMALL) == 10.0 and est.typical(ZOOM) == 60.0
    assert est.typical(BIG) == 10.5  # no history of its own: any recent run (the median)
    # one small running for 4 s (6 s left), a zoom and a small queued ahead, one worker
    assert est.wait([ZOOM, SMALL], [(SMALL, 4.0)], workers=1) == 76.0
    assert est.wait([ZOOM, SMALL], [(SMALL, 4.0)], workers=2) == 38.0
    assert est.wait([], [(SMALL, 30.0)], workers=1) == 0.0  # overdue: no negative time
