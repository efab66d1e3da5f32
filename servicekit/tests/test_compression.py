"""Responses arrive in the coding the client prefers; a download is compressed in its own thread, a
chunk at a time, each chunk decodable as it arrives."""

from __future__ import annotations

import threading

import httpx
import pytest
import zstandard

from servicekit.testing import LiveServer, StreamDecoder

CODINGS = ["zstd", "br", "gzip"]


def raw_download(url: str, accept_encoding: str) -> tuple[httpx.Headers, bytes]:
    with httpx.stream("GET", url, headers={"Accept-Encoding": accept_encoding}, timeout=30) as response:
        assert response.status_code == 200
        return response.headers, b"".join(response.iter_raw())


@pytest.mark.parametrize("coding", CODINGS)
def test_a_download_arrives_whole_in_the_coding_the_client_asked_for(live_server: LiveServer, coding: str) -> None:
    url = f"{live_server.url}/numbers?rows=100000"
    _, plain = raw_download(url, "identity")
    headers, packed = raw_download(url, coding)
    assert headers["content-encoding"] == coding
    assert "accept-encoding" in headers["vary"].lower()
    decoder = StreamDecoder(coding)
    assert decoder.decode(packed) == plain
    assert decoder.ended
    assert len(packed) < len(plain) / 2


def test_a_zstd_download_declares_a_small_window(live_server: LiveServer) -> None:
    """The window is what each download's encoder holds, and what a client's decoder must hold, for the
    whole download: 256 KiB, not zstd's megabytes."""
    _, packed = raw_download(f"{live_server.url}/numbers?rows=1000000", "zstd")
    assert zstandard.get_frame_parameters(packed).window_size <= 256 * 1024


@pytest.mark.parametrize("coding", CODINGS)
def test_a_downloads_first_piece_decodes_before_the_rest_is_made(
    live_server: LiveServer, paused_after_the_first_piece: threading.Event, coding: str
) -> None:
    decode = StreamDecoder(coding).decode
    whole = b"".join(b"%d\n" % n for n in range(1, 100_001))
    with httpx.stream(
        "GET", f"{live_server.url}/numbers?rows=100000", headers={"Accept-Encoding": coding}, timeout=5
    ) as response:
        chunks = response.iter_raw()
        decoded = b""
        while not decoded:  # an encoder that held its output back would leave this waiting until the timeout
            decoded += decode(next(chunks))
        assert whole.startswith(decoded)
        assert len(decoded) < len(whole)  # the first piece, without the rest
        paused_after_the_first_piece.set()
        decoded += b"".join(decode(chunk) for chunk in chunks)
    assert decoded == whole


def test_json_answers_are_compressed_in_the_preferred_coding(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/big", headers={"Accept-Encoding": "gzip;q=1, zstd;q=0.5"}, timeout=10)
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()  # httpx decoded it
