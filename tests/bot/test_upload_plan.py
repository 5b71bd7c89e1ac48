"""bot.upload_plan: the dream and the files beside it planned against the upload limit as one."""

import io

import pytest
from PIL import Image

from bot.upload_plan import (
    MIN_DREAM_BYTES,
    MIN_EXTRA_SIDE,
    UploadPlan,
    dream_budget,
    limit_after_refusal,
    plan_upload,
)
from dreamcore.imaging import file_extension


def noise(side: int, fmt: str = "JPEG", seed: int = 40, **options) -> bytes:
    """Noise: it compresses badly, so sizes are predictable and large."""
    buf = io.BytesIO()
    Image.effect_noise((side, side), seed).convert("RGB").save(buf, fmt, **options)
    return buf.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.size


@pytest.fixture(scope="module")
def big_source() -> bytes:
    data = noise(520, quality=95)  # ~240 kB: the source, beside a 150 kB limit
    assert 200_000 < len(data) < 300_000
    return data


def test_the_dream_gets_the_limit_less_a_bounded_room_for_its_extras():
    assert dream_budget(1000, [("source.jpg", b"x" * 100)]) == 900
    assert dream_budget(1000, [("source.jpg", b"x" * 900)]) == 750  # at most a quarter kept
    assert dream_budget(1000, []) == 1000


def test_a_source_larger_than_the_limit_is_shrunk_and_the_whole_answer_fits(big_source):
    limit = 150_000
    extras = [("source.jpg", big_source)]
    dream = noise(300, "WEBP", quality=80)  # as the worker fitted it to its budget
    assert len(big_source) > limit and len(dream) <= dream_budget(limit, extras)
    plan = plan_upload(("dream.webp", dream), extras, limit, reencodable=True)
    assert plan is not None and plan.size <= limit
    assert plan.dream == ("dream.webp", dream)  # the dream first: untouched
    [(name, data)] = plan.extras
    assert name.startswith("source.") and plan.extra_named("source.") == name
    assert min(size_of(data)) >= MIN_EXTRA_SIDE and not plan.left_out


def test_extras_that_fit_travel_as_they_are():
    extras = (("source.jpg", b"s" * 100), ("guide.jpg", b"g" * 50))
    plan = plan_upload(("dream.png", b"d" * 800), extras, 1000, reencodable=True)
    assert plan == UploadPlan(("dream.png", b"d" * 800), extras)


def test_an_extra_with_no_room_left_is_left_out_and_the_dream_kept():
    source = noise(256)
    dream = ("dream.webp", b"d" * 99_000)  # an animation filling the limit
    plan = plan_upload(dream, [("source.jpg", source)], 100_000, reencodable=False)
    assert plan == UploadPlan(dream, (), ("source.jpg",))


def test_shares_go_by_size_and_a_left_out_extras_share_goes_to_the_next():
    source, guide = noise(64), noise(200)  # ~3 kB and ~26 kB
    # 10 kB left: the source's share (~1.1 kB) is too small to be of use; the guide gets it all
    plan = plan_upload(
        ("dream.png", b"d" * 30_000),
        [("source.jpg", source), ("guide.jpg", guide)],
        40_000,
        reencodable=True,
    )
    assert plan is not None and plan.size <= 40_000
    assert plan.left_out == ("source.jpg",)
    [(name, data)] = plan.extras
    assert name.startswith("guide.") and min(size_of(data)) >= MIN_EXTRA_SIDE


def test_a_still_over_the_limit_is_reencoded_to_its_budget_and_renamed():
    dream = noise(256, "PNG")  # ~200 kB
    extras = [("source.jpg", noise(128))]
    plan = plan_upload(("dream.png", dream), extras, 60_000, reencodable=True)
    assert plan is not None and plan.size <= 60_000
    assert len(plan.dream[1]) <= dream_budget(60_000, extras)
    name, data = plan.dream
    with Image.open(io.BytesIO(data)) as im:
        assert name == f"dream.{file_extension(im.format)}"
    assert plan.extra_named("source.")  # shrunk into what the dream left


def test_an_animation_over_the_limit_cannot_be_planned():
    assert plan_upload(("dream.webp", b"a" * 2000), [], 1000, reencodable=False) is None


def test_after_a_refusal_a_still_plans_for_half_and_an_animation_for_itself_alone():
    plan = UploadPlan(("dream.png", b"d" * 60_000), (("source.jpg", b"s" * 20_000),))
    assert limit_after_refusal(plan, reencodable=True) == 40_000
    assert limit_after_refusal(plan, reencodable=False) == 60_000  # the extras go
    alone = UploadPlan(("dream.webp", b"d" * 60_000))
    assert limit_after_refusal(alone, reencodable=False) is None  # nothing smaller to try
    tiny = UploadPlan(("dream.png", b"d" * MIN_DREAM_BYTES))
    assert limit_after_refusal(tiny, reencodable=True) is None
