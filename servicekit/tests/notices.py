"""What the tests write to the fixture service's outage notices."""

from __future__ import annotations

import random
import uuid
from typing import Any


def a_notice(**fields: Any) -> dict[str, Any]:
    """A notice no other test's overlaps: its own reference and area."""
    notice = {
        "reference": str(uuid.uuid4()),
        "title": "Fibre cut at the exchange",
        "contact": "noc@isp.test",
        "link": "https://status.isp.test/notices/1",
        "area": random.randrange(10**9),
        "published_on": "2026-12-06",
        "starts_at": "2026-12-07T10:00:00Z",
        "ends_at": "2026-12-07T12:30:00+01:00",
    }
    return notice | fields
