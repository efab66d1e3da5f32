"""Other libraries' internals that the kit relies on: private names, undocumented modules and attributes,
and code copied from them, which no release promises to keep.

Each library's are in a module of their own here (`servicekit.internals.uvicorn`, ...), and the kit
reaches them only through it. Each is checked as its module is imported, so a release that renames or
changes one stops the service at start-up with `MissingInternal`, naming the internal and the release,
instead of answering wrongly at run time. `servicekit/pyproject.toml` bounds these libraries to the
releases the kit's tests pass on; `make deps-latest` runs the tests on the newest, to hear of a change
before a bound is raised.
"""

from __future__ import annotations

import dis
import hashlib
import inspect
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from types import TracebackType
from typing import Any

BOUNDS = "servicekit/pyproject.toml bounds it to the releases the kit's tests pass on"


class MissingInternal(ImportError):
    """An internal of another library that the kit relies on is not there, or not as the kit knows it."""


class Internals:
    """The checks of one library's internals; `distribution` is its name on PyPI, for its version."""

    def __init__(self, distribution: str) -> None:
        self.distribution = distribution
        self.version = version(distribution)

    def missing(self, internal: str, what: str = "which it does not have") -> MissingInternal:
        _uncaught_in_one_line()
        return MissingInternal(
            f"servicekit relies on {internal}, an internal of {self.distribution}, {what} in "
            f"{self.distribution} {self.version}: {BOUNDS}"
        )

    @contextmanager
    def imported(self) -> Iterator[None]:
        """Imports of undocumented modules or names, a missing one raised as MissingInternal."""
        try:
            yield
        except ImportError as exc:
            raise self.missing(_imported_name(exc)) from None

    def require(self, owner: Any, *names: str) -> None:
        """`owner` (a module or a class) has each of `names`."""
        for name in names:
            if not hasattr(owner, name):
                raise self.missing(f"{_name_of(owner)}.{name}")

    def require_assigned(self, cls: type, *names: str) -> None:
        """`cls`'s code sets each of `names` on its instances: the attributes only an instance has."""
        assigned = _assigned_attributes(cls)
        for name in names:
            if name not in assigned:
                raise self.missing(f"{_name_of(cls)}.{name}", "which its instances no longer get")

    def require_constants(self, function: Callable[..., Any], *values: str) -> None:
        """`function`'s code still holds each of `values`: the keys of the data it writes, say."""
        constants = set(_flattened(function.__code__.co_consts))
        for value in values:
            if value not in constants:
                raise self.missing(f"{_name_of(function)}'s {value!r}", "which it no longer writes")

    def require_unchanged(self, owner: Any, name: str, digest: str) -> None:
        """`owner.name`'s source (dedented) is still the one whose SHA-256 begins with `digest`: the kit holds a
        copy of it, to be compared with the new source before the digest is updated."""
        internal = f"{_name_of(owner)}.{name}"
        try:
            source = textwrap.dedent(inspect.getsource(getattr(owner, name)))
        except (AttributeError, OSError, TypeError):
            raise self.missing(internal, "whose source the kit compares with its copy, unreadable") from None
        if not hashlib.sha256(source.encode()).hexdigest().startswith(digest):
            raise self.missing(internal, "which the kit holds a copy of, changed")


def _uncaught_in_one_line() -> None:
    """Should the error stop the process, its message is all it prints, as for a bad setting: the traceback
    would only show which of the kit's modules imported the internal first."""
    previous = sys.excepthook

    def excepthook(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
        if isinstance(error, MissingInternal):
            print(error, file=sys.stderr)
        else:
            previous(kind, error, traceback)

    sys.excepthook = excepthook


def _imported_name(exc: ImportError) -> str:
    # "cannot import name 'X' from 'a.b'" has the name only in its message; a missing module in `name`.
    message = str(exc)
    if message.startswith("cannot import name"):
        name, module = message.split("'")[1], exc.name or "?"
        return f"{module}.{name}"
    return exc.name or message


def _flattened(constants: tuple[object, ...]) -> Iterator[object]:
    for constant in constants:
        # A dict display's keys are one tuple constant.
        yield from (constant if type(constant) is tuple else (constant,))


def _name_of(owner: Any) -> str:
    module = getattr(owner, "__module__", None)
    qualname = getattr(owner, "__qualname__", None) or getattr(owner, "__name__", repr(owner))
    return f"{module}.{qualname}" if module and not inspect.ismodule(owner) else str(qualname)


def _assigned_attributes(cls: type) -> set[str]:
    assigned: set[str] = set()
    for klass in cls.__mro__:
        for member in vars(klass).values():
            code = getattr(member, "__code__", None)
            if code is not None:
                assigned |= {op.argval for op in dis.get_instructions(code) if op.opname == "STORE_ATTR"}
    return assigned
