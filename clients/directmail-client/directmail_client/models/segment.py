from typing import Literal

Segment = Literal["S1", "S2", "S3", "S4", "S5"]

SEGMENT_VALUES: set[Segment] = {
    "S1",
    "S2",
    "S3",
    "S4",
    "S5",
}


def check_segment(value: str) -> Segment:
    if value in SEGMENT_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {SEGMENT_VALUES!r}")
