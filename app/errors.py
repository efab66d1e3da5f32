"""Directmail's own errors. The domain raises them; `PROBLEM_STATUSES` is the one place that says which
HTTP status each gets, and the kit answers with a problem+json body carrying the error's message."""

from __future__ import annotations


class MailingListError(Exception):
    """A mailing list that cannot be made as asked (filters that exclude each other, communities that do
    not exist); the message says what to change."""


PROBLEM_STATUSES: dict[type[Exception], int] = {MailingListError: 400}
