"""Message components as Discord takes and gives them: classic action rows of buttons and selects,
and the Components V2 layout a message opts into with the flag IS_COMPONENTS_V2 (1 << 15).

What a V2 message must be (checked before anything is stored; 400 in Discord's error shape,
`{"code": 50035, "message": "Invalid Form Body", "errors": {<path>: {"_errors": [...]}}}`):
no content and no embeds (Discord's own sub-code:
MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2), at most 40 components in all, nested ones
counted; and its media (a gallery's items, a thumbnail, a file) that say `attachment://name`
name a file of the message. Layout components (containers, sections, text, media) without the
flag are refused too. The sub-codes of those last three are this double's own names: Discord's
are not documented.

What is stored and returned is what Discord returns: an `attachment://name` media item becomes
the attachment's own (its URL, proxy URL, size, type and `attachment_id`), and in a V2 message
every component without an `id` gets one, numbered in order.

`walk` visits every component of a tree (a container's children, a section's texts and its
accessory, an action row's buttons): a click finds its button anywhere in it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

from .body import FakeError

COMPONENTS_V2 = 1 << 15  # the message flag IS_COMPONENTS_V2
MAX_COMPONENTS = 40  # in one V2 message, nested ones included
ACTION_ROW, BUTTON, SECTION, THUMBNAIL, MEDIA_GALLERY, FILE, CONTAINER = 1, 2, 9, 11, 12, 13, 17
V2_ONLY = frozenset({SECTION, 10, THUMBNAIL, MEDIA_GALLERY, FILE, 14, CONTAINER})
ATTACHMENT = "attachment://"

Path = tuple[str, ...]  # where in the body: ("components", "0", "components", "2")


def walk(
    components: Sequence[dict[str, Any]], path: Path = ("components",)
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every component of a message, nested ones included, parents first, with its path: an
    action row's or container's `components`, a section's texts and its `accessory`."""
    for i, component in enumerate(components):
        here = (*path, str(i))
        yield here, component
        yield from walk(component.get("components") or [], (*here, "components"))
        accessory = component.get("accessory")
        if isinstance(accessory, dict):
            yield (*here, "accessory"), accessory


def find(message: dict[str, Any], custom_id: str) -> dict[str, Any] | None:
    """The component of `message` whose custom_id is `custom_id`, wherever it is nested."""
    for _, component in walk(message.get("components") or []):
        if component.get("custom_id") == custom_id:
            return component
    return None


def buttons_of(message: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every button of a message (action rows, containers, sections' accessories), in order."""
    tree = (message or {}).get("components") or []
    return [c for _, c in walk(tree) if c.get("type") == BUTTON]


def media_of(component: dict[str, Any]) -> list[tuple[Path, dict[str, Any]]]:
    """The media a component shows (relative path, unfurled media item)."""
    kind = component.get("type")
    if kind == THUMBNAIL and isinstance(component.get("media"), dict):
        return [(("media",), component["media"])]
    if kind == MEDIA_GALLERY:
        items = component.get("items") or []
        return [(("items", str(i), "media"), item["media"]) for i, item in enumerate(items)]
    if kind == FILE and isinstance(component.get("file"), dict):
        return [(("file",), component["file"])]
    return []


def invalid(path: Path, code: str, message: str) -> FakeError:
    """Discord's 400 for one bad field: its path as nested keys down to `_errors`."""
    errors: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        errors = {key: errors}
    return FakeError(400, 50035, "Invalid Form Body", errors=errors)


def check(
    flags: int,
    content: str | None,
    embeds: Sequence[Any] | None,
    components: Sequence[dict[str, Any]],
    filenames: Sequence[str],
) -> None:
    """Raise Discord's 400 when the message (as it will be once created or edited) breaks a
    rule of components; see the module's docstring."""
    tree = list(walk(components))
    if not flags & COMPONENTS_V2:
        for path, component in tree:
            if component.get("type") in V2_ONLY:
                raise invalid(
                    (*path, "type"),
                    "COMPONENT_TYPE_NEEDS_COMPONENTS_V2",
                    "This component type needs MessageFlags.IS_COMPONENTS_V2",
                )
        return
    for field, value in (("content", content), ("embeds", embeds)):
        if value:
            raise invalid(
                (field,),
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                f"The '{field}' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
            )
    if len(tree) > MAX_COMPONENTS:
        raise invalid(
            ("components",),
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {MAX_COMPONENTS} or fewer in length (nested components count).",
        )
    names = set(filenames)
    for path, component in tree:
        for where, media in media_of(component):
            url = str(media.get("url") or "")
            if url.startswith(ATTACHMENT) and url.removeprefix(ATTACHMENT) not in names:
                raise invalid(
                    (*path, *where, "url"),
                    "UNFURLED_MEDIA_ITEM_ATTACHMENT_NOT_FOUND",
                    f"No file named {url.removeprefix(ATTACHMENT)!r} is attached to this message",
                )


def resolved(
    components: Sequence[dict[str, Any]], attachments: Sequence[dict[str, Any]], flags: int
) -> list[dict[str, Any]]:
    """The components as stored and returned: `attachment://` media resolved to the message's
    attachments, and (in a V2 message) an `id` on every component."""
    out = copy.deepcopy(list(components))
    by_name = {a["filename"]: a for a in attachments}
    tree = list(walk(out))
    for _, component in tree:
        for _, media in media_of(component):
            url = str(media.get("url") or "")
            att = by_name.get(url.removeprefix(ATTACHMENT)) if url.startswith(ATTACHMENT) else None
            if att is not None:
                media.update(unfurled(att))
    if flags & COMPONENTS_V2:
        used = {c["id"] for _, c in tree if isinstance(c.get("id"), int)}
        fresh = (n for n in range(1, 10_000) if n not in used)
        for _, component in tree:
            if component.get("id") is None:
                component["id"] = next(fresh)
    return out


def unfurled(attachment: dict[str, Any]) -> dict[str, Any]:
    """A media item made of an uploaded attachment, as Discord returns it."""
    media = {
        "url": attachment["url"],
        "proxy_url": attachment.get("proxy_url", attachment["url"]),
        "content_type": attachment.get("content_type"),
        "attachment_id": attachment["id"],
        "flags": 0,
    }
    if "width" in attachment:
        media.update(width=attachment["width"], height=attachment["height"])
    return media
