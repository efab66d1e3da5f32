"""A bounded load through the load balancer, tallied by the phase each request began in: probes,
summaries, and downloads read at an office link's pace, each download judged against the whole file."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import httpx

SUMMARY = "/directmail-summary?communities=Winson"
DOWNLOAD = "/directmail-csv"
PROBE_PAUSE_SECONDS = 0.1
SUMMARY_PAUSE_SECONDS = 0.05
REFUSED_DOWNLOAD_PAUSE_SECONDS = 1
DOWNLOAD_CHUNK = 64 * 1024
DOWNLOAD_BYTES_PER_SECOND = 2 * 1024 * 1024  # each download's reader: the export outlasts a drain's start


@dataclass(frozen=True)
class Whole:
    """What a complete download of DOWNLOAD is: the data does not change during the rehearsal."""

    size: int
    sha256: str


@dataclass
class Tally:
    """Outcomes per phase and kind: `ok`, a refusal (its status and reason), `whole`, `broken` (visibly: the
    transfer failed), `short` (a clean end with the wrong bytes, never acceptable) or an error's name."""

    phase: str = "steady"
    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, phase: str, kind: str, outcome: str) -> None:
        with self.lock:
            self.outcomes[f"{phase}: {kind}"][outcome] += 1


def outcome(answer: httpx.Response) -> str:
    """`ok`, or the status with who refused and why: a problem's detail, or the balancer's own page."""
    if answer.status_code == 200:
        return "ok"
    if answer.headers.get("content-type", "").startswith("application/problem+json"):
        return f"{answer.status_code} ({answer.json().get('detail')})"
    return f"{answer.status_code} (from the balancer)"


class Load:
    """The load, on an event loop of its own thread, until stopped."""

    def __init__(self, url: str, token: str, whole: Whole, tally: Tally) -> None:
        self.url, self.whole, self.tally = url, whole, tally
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> Load:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(120)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=self.url, timeout=60, limits=limits) as client:
            await asyncio.gather(
                *(self._probes(client, path) for path in ("/healthz", "/readyz")),
                *(self._summaries(client) for _ in range(3)),
                *(self._downloads(client) for _ in range(2)),
            )

    async def _probes(self, client: httpx.AsyncClient, path: str) -> None:
        while not self._stop.is_set():
            phase = self.tally.phase
            try:
                self.tally.add(phase, f"probe {path}", outcome(await client.get(path)))
            except httpx.HTTPError as exc:
                self.tally.add(phase, f"probe {path}", type(exc).__name__)
            await asyncio.sleep(PROBE_PAUSE_SECONDS)

    async def _summaries(self, client: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            phase = self.tally.phase
            try:
                answer = await client.get(SUMMARY, headers=self.headers)
                empty = answer.status_code == 200 and answer.json()["total"] == 0
                self.tally.add(phase, "summary", "empty" if empty else outcome(answer))
            except httpx.HTTPError as exc:
                self.tally.add(phase, "summary", type(exc).__name__)
            await asyncio.sleep(SUMMARY_PAUSE_SECONDS)

    async def _downloads(self, client: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            phase = self.tally.phase
            result = await self._download(client)
            self.tally.add(phase, "download", result)
            if result not in {"whole", "broken", "short"}:
                await asyncio.sleep(REFUSED_DOWNLOAD_PAUSE_SECONDS)  # as a person would before trying again

    async def _download(self, client: httpx.AsyncClient) -> str:
        digest, size = hashlib.sha256(), 0
        try:
            async with client.stream("GET", DOWNLOAD, headers=self.headers) as answer:
                if answer.status_code != 200:
                    await answer.aread()
                    return outcome(answer)
                async for chunk in answer.aiter_raw(DOWNLOAD_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    await asyncio.sleep(len(chunk) / DOWNLOAD_BYTES_PER_SECOND)
        except httpx.HTTPError:
            return "broken"
        return "whole" if Whole(size, digest.hexdigest()) == self.whole else "short"


def whole_download(url: str, token: str) -> Whole:
    """The complete file, read once before the rehearsal begins."""
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
    answer = httpx.get(url + DOWNLOAD, headers=headers, timeout=120)
    answer.raise_for_status()
    return Whole(len(answer.content), hashlib.sha256(answer.content).hexdigest())
