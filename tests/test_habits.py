"""The source's own habits, which no linter holds: formatting is never switched off, and a
`type: ignore` always names its code (mypy's warn_unused_ignores then keeps each one true)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("dreambot", "bot", "dreamcore", "localdiscord", "sandbox", "tests", "benchmarks")
FMT_SKIP = "# fmt" + ": skip"  # spelled apart, so this file doesn't find itself
BARE_IGNORE = re.compile(r"#\s*type:\s*ignore(?!\[)")


def _sources() -> list[Path]:
    return [path for folder in FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))]


def test_formatting_is_never_switched_off():
    found = [str(p.relative_to(ROOT)) for p in _sources() if FMT_SKIP in p.read_text("utf-8")]
    assert found == []


def test_every_type_ignore_names_its_code():
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _sources()
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if BARE_IGNORE.search(line)
    ]
    assert found == []
