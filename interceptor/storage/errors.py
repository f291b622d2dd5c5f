"""Short descriptions of database errors for logs (one line, no SQL, no password)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError


def describe(error: BaseException | None, limit: int = 300) -> str:
    """``OperationalError: connection refused`` rather than SQLAlchemy's multi-line text."""
    if error is None:
        return "unknown error"
    original = error.orig if isinstance(error, DBAPIError) and error.orig else error
    text = " ".join(str(original).split())
    text = text.split(" (Background on this error")[0].split(" [SQL:")[0]
    return f"{type(original).__name__}: {text[:limit]}"
