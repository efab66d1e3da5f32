"""Content codings: which one a client gets, and the streaming encoders a download compresses with.

The coding is chosen once per request, by the client's `Accept-Encoding` q-values (werkzeug weighs them
and `*`), from what the kit offers. The compression middleware answers with it; a download compresses
its stream with it in its own worker thread. Each encoder flushes every chunk it is given, so the client
can decode each chunk as it arrives; the codecs release the GIL while they work, so downloads compress
side by side on as many cores as there are.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Protocol

import brotli
import zstandard
from werkzeug.http import parse_accept_header

# On a tie, the cheapest per byte saved first: zstd compresses at several times brotli's speed.
CODINGS = ("zstd", "br", "gzip")
GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer, not a bare deflate stream
# A 256 KiB window for brotli and zstd, not their 4 MiB and 2 MiB: each download holds its encoder for
# its whole run, and a CSV in export order repeats itself between nearby rows. On the demo export, brotli
# then takes 0.9 MB a download rather than 8.4 MB, zstd 1.2 MB rather than 3 MB, and both compress as
# well (0.128 of the CSV rather than 0.131; zstd 0.133 rather than 0.136), in half the time.
WINDOW_BITS = 18


@dataclass(frozen=True)
class CompressionLevels:
    """Levels for streams compressed as they are made: fast ones (a level that halves the speed for a few
    per cent smaller output would make a download wait on its compressor, not its database)."""

    zstd: int = 3
    brotli: int = 3
    gzip: int = 4


FAST_LEVELS = CompressionLevels()


def chosen_coding(accept_encoding: str) -> str | None:
    """The coding the client prefers among those offered, or None for the bytes as they are."""
    return parse_accept_header(accept_encoding).best_match(CODINGS)


class StreamEncoder(Protocol):
    def compress(self, chunk: bytes) -> bytes:
        """`chunk` compressed and flushed: the client can decode all of it on arrival."""

    def finish(self) -> bytes:
        """The end of the stream."""


class _Brotli:
    def __init__(self, quality: int) -> None:
        self._compressor = brotli.Compressor(quality=quality, lgwin=WINDOW_BITS)

    def compress(self, chunk: bytes) -> bytes:
        return bytes(self._compressor.process(chunk) + self._compressor.flush())

    def finish(self) -> bytes:
        return bytes(self._compressor.finish())


class _Zstd:
    def __init__(self, level: int) -> None:
        parameters = zstandard.ZstdCompressionParameters.from_level(level, window_log=WINDOW_BITS)
        self._compressor = zstandard.ZstdCompressor(compression_params=parameters).compressobj()

    def compress(self, chunk: bytes) -> bytes:
        return self._compressor.compress(chunk) + self._compressor.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)

    def finish(self) -> bytes:
        return self._compressor.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH)


class _Gzip:
    def __init__(self, level: int) -> None:
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, GZIP_WBITS)

    def compress(self, chunk: bytes) -> bytes:
        return self._compressor.compress(chunk) + self._compressor.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._compressor.flush(zlib.Z_FINISH)


class _Identity:
    def compress(self, chunk: bytes) -> bytes:
        return chunk

    def finish(self) -> bytes:
        return b""


def stream_encoder(coding: str | None, levels: CompressionLevels) -> StreamEncoder:
    """An encoder for `coding`; None: the bytes as they are."""
    if coding is None:
        return _Identity()
    if coding == "zstd":
        return _Zstd(levels.zstd)
    if coding == "br":
        return _Brotli(levels.brotli)
    if coding == "gzip":
        return _Gzip(levels.gzip)
    raise ValueError(f"no encoder for {coding!r}")
