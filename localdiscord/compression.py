"""Gateway transport compression: `zlib-stream` and `zstd-stream`, one shared context per
connection.

Discord compresses every gateway payload into one continuous stream and flushes after each message;
the client decompresses with one streaming context. zlib messages end with the Z_SYNC_FLUSH suffix
00 00 ff ff (discord.py buffers until it sees it); zstd messages end at a block flush.
discord.py asks for zstd-stream whenever `zstandard` (or Python 3.14's `compression.zstd`) is
importable, so the server side supports zstd exactly when one of them is importable here.
"""

from __future__ import annotations

import zlib
from typing import Protocol


class Encoder(Protocol):
    name: str

    def encode(self, text: str) -> bytes | str: ...


class PlainEncoder:
    name = "none"

    def encode(self, text: str) -> str:
        return text


class ZlibStreamEncoder:
    name = "zlib-stream"

    def __init__(self) -> None:
        self._ctx = zlib.compressobj()

    def encode(self, text: str) -> bytes:
        return self._ctx.compress(text.encode()) + self._ctx.flush(zlib.Z_SYNC_FLUSH)


def _zstd_module():
    try:
        import zstandard

        return "zstandard", zstandard
    except ImportError:
        pass
    try:
        from compression import zstd  # type: ignore[import-not-found]  # Python 3.14+

        return "compression.zstd", zstd
    except ImportError:
        return None, None


def zstd_available() -> bool:
    return _zstd_module()[0] is not None


class ZstdStreamEncoder:
    name = "zstd-stream"

    def __init__(self) -> None:
        source, mod = _zstd_module()
        if mod is None:
            raise RuntimeError("zstd-stream needs the zstandard package (or Python 3.14+)")
        self._source = source
        self._mod = mod
        if source == "zstandard":
            self._ctx = mod.ZstdCompressor().compressobj()
        else:
            self._ctx = mod.ZstdCompressor()

    def encode(self, text: str) -> bytes:
        data = text.encode()
        if self._source == "zstandard":
            return self._ctx.compress(data) + self._ctx.flush(self._mod.COMPRESSOBJ_FLUSH_BLOCK)
        return self._ctx.compress(data, self._mod.ZstdCompressor.FLUSH_BLOCK)


def make_encoder(compress: str | None) -> Encoder:
    """Encoder for the gateway URL's `compress` query value (None/'' = uncompressed text frames)."""
    if not compress:
        return PlainEncoder()
    if compress == "zlib-stream":
        return ZlibStreamEncoder()
    if compress == "zstd-stream":
        return ZstdStreamEncoder()
    raise ValueError(f"unsupported gateway compression {compress!r}")
