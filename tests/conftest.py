import pytest


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.gpu` tests need CUDA; on a machine without it they are skipped (and say so)."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
