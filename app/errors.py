"""Directmail's own errors. The domain raises them; `PROBLEM_STATUSES` is the one place that says which
HTTP status each gets, and the kit answers with a problem+json body carrying the error's message."""

from __future__ import annotations

from collections.abc import Iterable


class MailingListError(Exception):
    """A mailing list that cannot be made as asked (filters that exclude each other, communities that do
    not exist); the message says what to change, and `invalid_params` which parameters, with why, for a
    program (Swagger UI's form, a generated client) to read."""

    def __init__(self, message: str, invalid_params: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.invalid_params = list(invalid_params)


PROBLEM_STATUSES: dict[type[Exception], int] = {MailingListError: 400}
