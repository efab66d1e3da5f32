"""How a caller writes a list in a query: the OpenAPI default, one value per item (`?names=A&names=B`),
which every generator's client and Swagger UI send; or, for a parameter the spec marks `x-csv-line: true`,
one value holding a CSV line (`?names=A,"B, C"`), which people type into curl and browsers.

A single value can mean either: `?names=B, C` is the item `B, C` or the items `B` and `C`. The kit never
guesses: the service says which values are items as they stand (a name it knows), and any other single
value is read as a CSV line whose items must each meet the parameter's rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from servicekit.validation import CSV_LINE, checked_csv_line, reads_as_more_than_itself

__all__ = ["listed"]


def listed(values: list[str], parameter: dict[str, Any], is_item: Callable[[str], bool]) -> list[str]:
    """The items of an array parameter (`parameter`, the spec's definition) given as `values`: each value
    when it is repeated; a single value that `is_item` takes as it stands; otherwise that value's CSV line.
    `is_item` is asked only when the two readings differ, so it may cost a query."""
    if len(values) != 1 or not parameter.get(CSV_LINE):
        return values
    [value] = values
    if not reads_as_more_than_itself(value) or is_item(value):
        return values
    return checked_csv_line(parameter, value)
