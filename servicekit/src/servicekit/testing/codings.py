"""Reading a response in any coding the kit sends, as a client would: a piece at a time, and whether the
stream ended as its encoder ends it (a broken transfer must not decode as a whole file)."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import brotli
import zstandard

from servicekit.compression import GZIP_WBITS


class StreamDecoder:
    """Decodes a coding's stream as it arrives; `ended` once its encoder's end of stream has come."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        if coding == "br":
            self._brotli = brotli.Decompressor()
            self.decode: Callable[[bytes], bytes] = self._brotli.process
        elif coding == "zstd":
            self._zstd = zstandard.ZstdDecompressor().decompressobj()
            self.decode = self._zstd.decompress
        elif coding == "gzip":
            self._gzip = zlib.decompressobj(GZIP_WBITS)
            self.decode = self._gzip.decompress
        else:
            raise ValueError(f"no decoder for {coding!r}")

    @property
    def ended(self) -> bool:
        if self.coding == "br":
            return bool(self._brotli.is_finished())
        if self.coding == "zstd":
            return bool(self._zstd.eof)
        return self._gzip.eof


def cleanly_ended(body: bytes, coding: str) -> bool:
    """Whether `body` holds its encoder's end of stream, which would pass a short file as a whole one
    (never, for bytes sent as they are)."""
    if coding == "identity":
        return False
    decoder = StreamDecoder(coding)
    decoder.decode(body)
    return decoder.ended
