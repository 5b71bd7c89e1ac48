"""The forms (modals) a bot opens, as a person sees them and as Discord submits them: each field
named by its Label's text (or a legacy text input's own label), the MODAL_SUBMIT `data` built from
the modal the bot sent. Shared by the tests' injections (server.submit_modal), the interaction
records and the sandbox page's forms.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

TEXT_INPUT, STRING_SELECT, LABEL, ACTION_ROW = 4, 3, 18, 1
Component = dict[str, Any]
Field = tuple[str, Any, tuple[Component, Component]]  # name, value, (top-level component, field)


def _field_name(component: dict[str, Any], label: str | None) -> str:
    return label or component.get("label") or component.get("placeholder") or component["custom_id"]


def modal_fields(modal: dict[str, Any]) -> dict[str, Any]:
    """A modal's fields as a person sees them: {label: prefilled text, or the chosen options'
    values}; labels are the Label's text (or a legacy text input's own label)."""
    return {name: value for name, value, _ in field_items(modal)}


def field_items(modal: dict[str, Any]) -> Iterator[Field]:
    """(name, value, (top-level component, the field)) for each field of the modal, in order."""
    for top in modal.get("components") or []:
        if top["type"] == LABEL:
            inner, label = [top["component"]], top.get("label")
        else:
            inner, label = top.get("components") or [], None
        for component in inner:
            if component["type"] == TEXT_INPUT:
                value: Any = component.get("value") or ""
            elif component["type"] == STRING_SELECT:
                value = [o["value"] for o in component.get("options") or [] if o.get("default")]
            else:
                continue
            yield _field_name(component, label), value, (top, component)


def modal_submit_data(modal: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`data` of a MODAL_SUBMIT interaction, as Discord sends it: every field of the modal the
    bot opened, with what was there (the prefilled text, the default options) unless `changes`
    (keyed by the field's label, as modal_fields names them) says otherwise."""
    unknown = set(changes) - set(modal_fields(modal))
    if unknown:
        raise KeyError(f"localdiscord: the modal has no field {sorted(unknown)}")
    out: list[dict[str, Any]] = []
    for name, value, (top, component) in field_items(modal):
        value = changes[name] if name in changes else value
        sent: dict[str, Any] = {"type": component["type"], "custom_id": component["custom_id"]}
        if "id" in component:
            sent["id"] = component["id"]
        if component["type"] == TEXT_INPUT:
            sent["value"] = str(value)
        else:
            sent["values"] = [str(v) for v in value]
        if top["type"] == LABEL:
            out.append({"type": LABEL, "id": top.get("id"), "component": sent})
        else:
            out.append({"type": ACTION_ROW, "id": top.get("id"), "components": [sent]})
    return {"custom_id": modal["custom_id"], "components": out}
