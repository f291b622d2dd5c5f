"""Which events the relay may forget: acknowledgements in arrival order.

Each event the side work takes is handed in with a token (None: nothing more to do for
it, e.g. not an attempt). The relay is acknowledged up to the first event whose token is
not yet durable (its attempt in the database or the spool, its callback SQL done).
"""

from __future__ import annotations

import collections


class AckWindow:
    def __init__(self) -> None:
        self._handed: collections.deque[tuple[int, str | None]] = collections.deque()
        self._durable: set[str] = set()

    def handed(self, sequence: int, token: str | None) -> None:
        self._handed.append((sequence, token))

    def durable(self, token: str) -> None:
        self._durable.add(token)

    def advance(self) -> int | None:
        """The sequence number up to which every event is done (None: no progress)."""
        handed, durable = self._handed, self._durable
        last = None
        while handed:
            sequence, token = handed[0]
            if token is not None:
                if token not in durable:
                    break
                durable.discard(token)
            handed.popleft()
            last = sequence
        return last
