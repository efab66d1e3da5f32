from typing import Literal

DatabaseState = Literal["ok", "unavailable"]

DATABASE_STATE_VALUES: set[DatabaseState] = {
    "ok",
    "unavailable",
}


def check_database_state(value: str) -> DatabaseState:
    if value in DATABASE_STATE_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {DATABASE_STATE_VALUES!r}")
