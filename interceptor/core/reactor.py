"""Names for Twisted's zope.interface types in annotations.

mypy cannot check zope interfaces without a plugin, so these aliases are ``Any`` that
say what is expected: pass the reactor (or a ``task.Clock`` in tests).
"""

from typing import Any

Reactor = Any  # IReactorTCP + IReactorTime (+ IReactorUDP where needed)
Clock = Any  # IReactorTime
DelayedCall = Any  # IDelayedCall
ListeningPort = Any  # IListeningPort
