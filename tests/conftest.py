import pytest

import tests.tiny_model  # noqa: F401  (registers the `tiny` test model in this process)


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.gpu` tests need CUDA; on a machine without it they are skipped (and say so)."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        # the marker, not item.keywords: those hold every folder's name too (a checkout in a
        # folder named `gpu` would skip all)
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray for the whole session (tests/dreamcore/pool/raycluster.py)."""
    pytest.importorskip("ray", reason="the Ray backend needs `pip install dreambot[ray]`")
    from tests.dreamcore.pool.raycluster import session_cluster

    with session_cluster() as cluster:
        yield cluster
