"""Time that a test moves on by hand instead of sleeping for it."""

from __future__ import annotations

import time


class FakeClock:
    """A monotonic clock that runs as `time.monotonic` does and jumps ahead by `advance(seconds)`: give it
    to code that takes a `clock` (`SigningKeys(..., clock=clock)`, or `validator.keys.clock = clock`), even
    one that has already read the real clock, since its readings never go back."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
