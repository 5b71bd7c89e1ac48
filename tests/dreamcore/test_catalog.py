"""Adding a model: `register_model`, and `engine.model_plugins`, which makes every process that
reads the config register the same models. The product's own catalog holds no test model."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from dreamcore.catalog import MODELS, register_model
from dreamcore.config import EngineConfig
from tests.tiny_model import TINY, build_tiny

PRODUCT_MODELS = ["googlenet", "inception5h", "vgg16", "vgg16-hed"]


def run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_the_product_offers_no_test_model():
    report = run(
        "import json; from dreamcore.catalog import MODELS; import dreamcore.engine.models;"
        "print(json.dumps(sorted(MODELS)))"
    )
    assert report == PRODUCT_MODELS


def test_a_config_naming_a_plugin_registers_its_model_in_a_fresh_process():
    report = run(
        "import json, sys; from dreamcore.config import EngineConfig;"
        'EngineConfig.model_validate_json(\'{"model_plugins": ["tests.tiny_model"]}\');'
        "from dreamcore.catalog import MODELS; torch = 'torch' in sys.modules;"
        "from dreamcore.engine.models import build_model, fetch_weights;"
        "net = build_model('tiny', EngineConfig(), download=False);"
        "print(json.dumps(dict(models=sorted(MODELS), torch_to_register=torch,"
        " net=type(net).__name__, weights=fetch_weights('tiny', EngineConfig()))))"
    )
    assert report == {
        "models": sorted([*PRODUCT_MODELS, "tiny"]),
        "torch_to_register": False,  # the bot's process may register it: no torch there
        "net": "TinyNet",
        "weights": None,  # it builds itself: nothing to download
    }


def test_a_plugin_that_cannot_be_imported_is_a_configuration_error():
    with pytest.raises(ValidationError, match=r"engine\.model_plugins: cannot import 'no\.such'"):
        EngineConfig(model_plugins=("no.such",))


def test_another_model_under_a_taken_name_is_refused():
    other = dataclasses.replace(MODELS["vgg16"], title="not torchvision's")
    with pytest.raises(ValueError, match="already registered as `vgg16`"):
        register_model(other, lambda: None)  # type: ignore[arg-type,return-value]
    assert MODELS["vgg16"].title == "VGG16 (torchvision, ImageNet)"
    register_model(TINY, build_tiny)  # the same one again (a module imported twice): harmless
    assert MODELS["tiny"] is TINY
