"""The one error type of configuration parsing: a message plus the path it concerns."""

from __future__ import annotations

from collections.abc import Sequence

PathElement = str | int


def format_path(path: Sequence[PathElement]) -> str:
    """Render ("peers", "ocs", 1, "port") as ``peers.ocs[1].port``."""
    text = ""
    for element in path:
        if isinstance(element, int):
            text += f"[{element}]"
        else:
            text += f".{element}" if text else element
    return text


class ConfigError(Exception):
    """A configuration value is missing or wrong; ``path`` names where."""

    def __init__(self, message: str, path: Sequence[PathElement] = ()) -> None:
        self.message = message
        self.path = tuple(path)
        super().__init__(str(self))

    def __str__(self) -> str:
        if not self.path:
            return self.message
        return f"{format_path(self.path)}: {self.message}"
