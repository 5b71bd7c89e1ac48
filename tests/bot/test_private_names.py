"""No module of the bot reaches into another's private names: a `_name` is imported from
nowhere, and read off nothing but `self` or `cls` (issue 21: BatchPart called Batch's private
methods)."""

from __future__ import annotations

import ast
from pathlib import Path

import bot


def private_reaches(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            found += [f"import {a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and is_private(node.attr):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                found.append(ast.unparse(node))
    return found


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_the_rule_sees_a_reach_into_another_object():
    assert private_reaches("self._batch._status()\nfrom bot.flow import _x") == [
        "import _x",
        "self._batch._status",
    ]
    assert private_reaches("self._status()\ncls._cache\nx.__class__") == []


NOT_THE_BOT = ("localdiscord", "sandbox")  # the test double and the sandbox: leaving the bot


def test_no_module_of_the_bot_reaches_into_anothers_private_names():
    package = Path(bot.__file__).parent
    reaches = {
        str(path.relative_to(package)): found
        for path in sorted(package.rglob("*.py"))
        if path.relative_to(package).parts[0] not in NOT_THE_BOT
        and (found := private_reaches(path.read_text(encoding="utf-8")))
    }
    assert reaches == {}
