"""How an error message quotes what a caller or a deployer sent: enough to recognise it, never all of it
(an 8 KiB parameter echoed back, or a secret pasted into the wrong setting)."""

from __future__ import annotations

__all__ = ["excerpt"]

EXCERPT_CHARACTERS = 40


def excerpt(value: object) -> str:
    """`value`'s repr, cut to about EXCERPT_CHARACTERS."""
    text = repr(value)
    return text if len(text) <= EXCERPT_CHARACTERS else f"{text[: EXCERPT_CHARACTERS - 3]}..."
