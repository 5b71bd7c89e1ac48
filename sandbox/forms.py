"""The forms (modals) the bot opens, as the page draws them, and what Discord's client refuses to
submit: an empty required field, text shorter or longer than the field allows, a choice count
outside the select's range or a value it does not offer.

Fields are named as localdiscord.modals names them (`modal_fields`: the Label's text, else the
text input's own label), so that a submission goes through the local Discord's own
`modal_submit_data`, the one shape the tests and the page share.
"""

from __future__ import annotations

from typing import Any

from localdiscord import modals
from localdiscord import payloads as P

TEXT_DISPLAY = 10  # text between a modal's fields (Discord's new modal layout)
FIELD_TYPES = (modals.TEXT_INPUT, modals.STRING_SELECT)


def _name(top: dict[str, Any], component: dict[str, Any]) -> str:
    """The field's name as modal_fields gives it: asked of a form holding this field alone."""
    alone = top if top["type"] == modals.LABEL else {**top, "components": [component]}
    [name] = modals.modal_fields({"components": [alone]})
    return name


def modal_view(modal: dict[str, Any]) -> dict[str, Any]:
    """{title, custom_id, items}: each item a field ({kind: "field", name, label, description,
    component}: the text input or string select as the bot sent it), some text ({kind: "text",
    content}), or a component the sandbox cannot show ({kind: "unsupported", type})."""
    items: list[dict[str, Any]] = []
    for top in modal.get("components") or []:
        if top.get("type") == TEXT_DISPLAY:
            items.append({"kind": "text", "content": top.get("content") or ""})
            continue
        label = top.get("label") if top.get("type") == modals.LABEL else None
        inner = [top["component"]] if top.get("type") == modals.LABEL else top.get("components")
        for component in inner or []:
            if component.get("type") not in FIELD_TYPES:
                items.append({"kind": "unsupported", "type": component.get("type")})
                continue
            items.append(
                {
                    "kind": "field",
                    "name": _name(top, component),
                    "label": label or component.get("label") or "",
                    "description": top.get("description") if label is not None else None,
                    "component": P.public(component),
                }
            )
    return {"title": modal.get("title") or "", "custom_id": modal.get("custom_id"), "items": items}


def _text_problem(label: str, component: dict[str, Any], value: Any) -> str | None:
    if not isinstance(value, str):
        return f"{label}: expected text"
    if component.get("required", True) and not value:
        return f"{label}: this field is required"
    low, high = component.get("min_length"), component.get("max_length")
    if value and low is not None and len(value) < low:
        return f"{label}: at least {low} characters"
    if high is not None and len(value) > high:
        return f"{label}: at most {high} characters"
    return None


def _select_problem(label: str, component: dict[str, Any], value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return f"{label}: expected a list of choices"
    offered = {o["value"] for o in component.get("options") or []}
    if set(value) - offered:
        return f"{label}: not one of the choices"
    low = component.get("min_values", 1) if component.get("required", True) else 0
    high = component.get("max_values", 1)
    if not low <= len(value) <= high:
        return f"{label}: choose {low}" + (f" to {high}" if high != low else "")
    return None


def submission_problem(modal: dict[str, Any], values: dict[str, Any]) -> str | None:
    """Why Discord's client would not submit `values` ({field name: text, or chosen values}; a
    field left out keeps what the bot put in it), or None."""
    fields = {i["name"]: i for i in modal_view(modal)["items"] if i["kind"] == "field"}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        return f"the form has no field {', '.join(unknown)}"
    prefilled = modals.modal_fields(modal)
    for name, item in fields.items():
        component, value = item["component"], values.get(name, prefilled[name])
        check = _text_problem if component["type"] == modals.TEXT_INPUT else _select_problem
        problem = check(item["label"] or name, component, value)
        if problem:
            return problem
    return None
