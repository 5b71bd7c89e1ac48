"""sandbox/forms.py: a modal as the page draws it (its fields named as the local Discord's
modal_submit_data takes them), and what Discord's client would refuse to submit."""

from __future__ import annotations

from localdiscord import modals
from sandbox.forms import modal_view, submission_problem

MODAL = {
    "title": "Edit this dream",
    "custom_id": "form",
    "components": [
        {"type": 10, "content": "**Careful**"},
        {
            "type": 18,
            "id": 1,
            "label": "Layer or mix",
            "description": "e.g. mixed4c",
            "component": {
                "type": 4,
                "custom_id": "layer",
                "style": 1,
                "value": "conv1",
                "required": False,
                "max_length": 10,
            },
        },
        {
            "type": 18,
            "id": 2,
            "label": "Smooth",
            "component": {
                "type": 3,
                "custom_id": "smooth",
                "min_values": 1,
                "max_values": 1,
                "options": [
                    {"label": "0", "value": "0", "default": True},
                    {"label": "2", "value": "2"},
                ],
            },
        },
        {  # the legacy layout: a text input in a row, with its own label
            "type": 1,
            "id": 3,
            "components": [
                {
                    "type": 4,
                    "custom_id": "note",
                    "style": 2,
                    "label": "Note",
                    "min_length": 3,
                    "placeholder": "why",
                }
            ],
        },
        {"type": 18, "label": "Who", "component": {"type": 5, "custom_id": "who"}},
    ],
}


def test_the_view_names_each_field_as_modal_submit_data_takes_it():
    view = modal_view(MODAL)
    assert view["title"] == "Edit this dream"
    kinds = [i["kind"] for i in view["items"]]
    assert kinds == ["text", "field", "field", "field", "unsupported"]
    fields = [i for i in view["items"] if i["kind"] == "field"]
    assert [f["name"] for f in fields] == list(modals.modal_fields(MODAL))
    assert [f["label"] for f in fields] == ["Layer or mix", "Smooth", "Note"]
    assert fields[0]["description"] == "e.g. mixed4c" and fields[2]["description"] is None
    assert fields[0]["component"]["value"] == "conv1"
    assert view["items"][-1]["type"] == 5  # a user select: said, not drawn


def test_what_the_client_would_refuse():
    good = {"Note": "because", "Smooth": ["2"]}
    assert submission_problem(MODAL, good) is None
    assert submission_problem(MODAL, {**good, "Layer or mix": ""}) is None  # not required
    refused = {
        "Layer or mix": {**good, "Layer or mix": "x" * 11},  # over max_length
        "Note": {"Smooth": ["2"]},  # required, and left empty by the bot
        "Smooth": {**good, "Smooth": ["9"]},  # not offered
    }
    for field, values in refused.items():
        problem = submission_problem(MODAL, values)
        assert problem is not None and problem.startswith(field), (field, problem)
    assert "at least 3" in (submission_problem(MODAL, {**good, "Note": "no"}) or "")
    assert "choose 1" in (submission_problem(MODAL, {**good, "Smooth": []}) or "")
    assert "no field Nope" in (submission_problem(MODAL, {**good, "Nope": "x"}) or "")
