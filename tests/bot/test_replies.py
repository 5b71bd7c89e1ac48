"""Wording: status lines, queue and help texts (the result's layout: test_layout.py)."""

from bot import replies
from dreamcore.request import DreamProgress


def test_progress_text_has_octave_step_and_bar():
    text = replies.progress_text(DreamProgress(octave=2, octaves=2, step=1, steps=2))
    assert "octave 2/2" in text and "step 1/2" in text and "75%" in text
    assert replies.progress_bar(0.5, width=4) == "██░░"


def test_queue_and_help_texts():
    assert replies.queued_text(3) == "⏳ Queued: 3rd in line."
    assert replies.queued_text(2, 42.0) == "⏳ Queued: 2nd in line, about 40 s."
    assert replies.queued_text(11, 150.0) == "⏳ Queued: 11th in line, about 2 min."
    assert "next" in replies.queued_text(1)
    assert [replies.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
    ]
    text = replies.help_text(["tiny"])
    assert "relu1" in text and len(text) < 2000
    assert "<@5>" in replies.lost_after_restart_text(5, "j1")
    assert replies.channel_list([1, 2]) == "<#1>, <#2>"
    assert "<#1>" in replies.not_allowed_here_text(replies.channel_list([1]))


def test_the_words_the_intake_and_the_publisher_say_are_here():
    assert replies.not_an_image_text("The guide") == (
        "The guide isn't an image; attach a PNG, JPEG, GIF or WebP image, or an MP4, WebM or MOV "
        "video."
    )
    assert replies.part_text(2, "Dream cancelled.") == "Image 2: Dream cancelled."
    assert replies.batch_status_text(["a", "b"]) == "Image 1: a\nImage 2: b"


def test_the_words_hold_no_layout():
    """The result's embed and file names are bot/layout.py's; replies is only what is said."""
    for name in ("result_embed", "params_from_embed", "settings_line", "SPOILER", "SOURCE_NAME"):
        assert not hasattr(replies, name), name
