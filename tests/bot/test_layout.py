"""The result's layout: the embed round trip (buttons read a dream's settings back after a
restart), the footer's job id, the notes for files left out."""

from bot import layout, replies
from dreamcore.request import make_params
from tests.helpers import dream_result


def _result(**kw):
    values = dict(width=80, height=60, seed=7, target="relu2:3", octaves_run=2, seconds=1.25)
    return dream_result(**{**values, **kw})


def test_embed_round_trip_keeps_every_setting():
    params = make_params(
        model="tiny",
        layer="relu2:3",
        octaves=2,
        steps=3,
        strength=0.7,
        jitter=4,
        seed=7,
        max_side=96,
    )
    embed = layout.result_embed(
        _result(),
        params,
        requester_id=42,
        job_id="abc",
        queue_s=3.0,
        with_source="source.jpg",
        notes=("the original was gone",),
    )
    back = layout.params_from_embed(embed)
    assert back == params
    assert layout.is_result_embed(embed)
    assert embed.thumbnail.url == "attachment://source.jpg"  # "before" travels with the dream
    assert layout.legacy_input_url(embed) is None
    assert embed.image.url == "attachment://dream.png"
    assert "job abc" in embed.footer.text
    assert "the original was gone" in {f.name: f.value for f in embed.fields}["Notes"]


def test_embed_overrides_and_old_results_links():
    params = make_params(model="tiny", layer="relu1", seed=1)
    embed = layout.result_embed(
        _result(target="relu1", format="jpeg"), params, requester_id=1, job_id="j", queue_s=0.0
    )
    assert layout.params_from_embed(embed, seed=None).seed is None
    assert embed.thumbnail.url is None
    assert embed.image.url == "attachment://dream.jpg"
    embed.set_thumbnail(url="https://cdn.discordapp.com/attachments/1/2/in.png")  # round 1 style
    assert layout.legacy_input_url(embed) == "https://cdn.discordapp.com/attachments/1/2/in.png"


def test_an_unreadable_seed_is_dropped_not_a_crash():
    # issue 19 #10: "²" passes isdigit() and then fails int()
    params = make_params(model="tiny", layer="relu1", seed=1)
    embed = layout.result_embed(
        _result(target="relu1"), params, requester_id=1, job_id="j", queue_s=0.0
    )
    index = next(i for i, f in enumerate(embed.fields) if f.name == "Seed")
    embed.set_field_at(index, name="Seed", value="²")
    assert layout.params_from_embed(embed).seed is None


def test_files_left_out_to_fit_the_upload_limit_are_said():
    assert layout.left_out_notes(()) == ()
    assert layout.left_out_notes(["source.gif", "guide.jpg"]) == (
        replies.SOURCE_LEFT_OUT_NOTE,
        replies.GUIDE_LEFT_OUT_NOTE,
    )


def test_the_footer_names_the_job_whose_ledger_row_holds_the_params():
    params = make_params(model="tiny", layer="relu1", seed=1)
    embed = layout.result_embed(
        _result(target="relu1"), params, requester_id=1, job_id="0123456789ab", queue_s=0.0
    )
    assert layout.job_id_of(embed) == "0123456789ab"
    embed.set_footer(text="job 0123456789ab; anything else")  # not ours: no lookup
    assert layout.job_id_of(embed) is None
    embed.remove_footer()
    assert layout.job_id_of(embed) is None
