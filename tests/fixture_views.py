"""Views of tests/fixture_api.yml."""

from __future__ import annotations

import time
from typing import Any

INTERNAL_DETAIL = "KeyError in premises_query at line 42"


def slow(seconds: float) -> dict[str, Any]:
    time.sleep(seconds)
    return {"slept": seconds}


def failure() -> dict[str, Any]:
    raise RuntimeError(INTERNAL_DETAIL)


def big() -> dict[str, Any]:
    return {"rows": [{"uprn": n, "town": "Llanfair Caereinion", "segment": "S1"} for n in range(1000)]}
