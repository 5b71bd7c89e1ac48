"""The MODAL_SUBMIT data localdiscord injects (modals.modal_submit_data), read by discord.py's
own Modal: every field of the modal the bot opened, as prefilled unless changed."""

import discord
import pytest

from localdiscord.modals import modal_fields, modal_submit_data


class Form(discord.ui.Modal, title="A form"):
    def __init__(self) -> None:
        super().__init__()
        self.text = discord.ui.TextInput(default="10")
        self.choice: discord.ui.Select = discord.ui.Select(
            options=[
                discord.SelectOption(label="A", value="a", default=True),
                discord.SelectOption(label="B", value="b"),
            ]
        )
        self.legacy = discord.ui.TextInput(label="Old style", default="x", required=False)
        self.add_item(discord.ui.Label(text="Steps", component=self.text))
        self.add_item(discord.ui.Label(text="Pick", component=self.choice))
        self.add_item(self.legacy)  # a text input straight in the modal: an action row


def _submitted(form: Form, changes: dict) -> Form:
    data = modal_submit_data(form.to_dict(), changes)
    assert data["custom_id"] == form.custom_id
    form._refresh(None, data["components"], {})  # what discord.py does with a MODAL_SUBMIT
    return form


def test_fields_are_named_by_their_labels_with_what_was_prefilled():
    assert modal_fields(Form().to_dict()) == {"Steps": "10", "Pick": ["a"], "Old style": "x"}


def test_unchanged_fields_come_back_as_prefilled():
    form = _submitted(Form(), {})
    assert (form.text.value, form.choice.values, form.legacy.value) == ("10", ["a"], "x")


def test_changes_reach_the_bots_items():
    form = _submitted(Form(), {"Steps": "20", "Pick": ["b"], "Old style": ""})
    assert (form.text.value, form.choice.values, form.legacy.value) == ("20", ["b"], "")


def test_a_field_the_modal_lacks_is_a_test_mistake():
    with pytest.raises(KeyError, match="Nope"):
        modal_submit_data(Form().to_dict(), {"Nope": "1"})
