"""Exceptions raised for user mistakes.

Every error meant for a user subclasses a built-in exception so that callers can catch it
with ordinary ``except ValueError`` clauses, and carries a message that names the file, the
row and the fix. The command line and the app print the message, never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterable


class SproError(Exception):
    """Base class of every error this package raises for a user mistake."""


class ValidationError(SproError, ValueError):
    """An input table, file or argument is not valid.

    Parameters
    ----------
    message
        What is wrong and how to fix it.
    source
        The file (or table) the problem was found in, if any.
    rows
        The 1-based data rows (header excluded) concerned, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | os.PathLike[str] | None = None,
        rows: Iterable[int] | None = None,
    ) -> None:
        self.source = None if source is None else os.fspath(source)
        self.rows = list(rows) if rows is not None else []
        parts = []
        if self.source:
            parts.append(self.source)
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:10])
            more = f" (and {len(self.rows) - 10} more)" if len(self.rows) > 10 else ""
            parts.append(f"row{'s' if len(self.rows) > 1 else ''} {shown}{more}")
        prefix = ": ".join([", ".join(parts)]) + ": " if parts else ""
        self.detail = message
        super().__init__(prefix + message)


class UnknownNameError(ValidationError, KeyError):
    """A name (network, profile, mode…) is not among the known ones.

    The message lists the valid options.
    """

    def __init__(
        self,
        kind: str,
        name: object,
        valid: Iterable[str],
        *,
        source: str | None = None,
        rows: Iterable[int] | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.valid = sorted(valid)
        super().__init__(
            f"unknown {kind} {name!r}; valid {kind}s are: {', '.join(self.valid)}",
            source=source,
            rows=rows,
        )

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return ValueError.__str__(self)


class EmptyProfileError(ValidationError):
    """A profile has no eligible site, so no travel time can be computed."""


class DataMissingError(SproError, FileNotFoundError):
    """An input data file is missing; the message says where it was looked for."""


class OverwriteRefusedError(SproError, FileExistsError):
    """Writing would overwrite a file the user already had, and they did not allow it."""
