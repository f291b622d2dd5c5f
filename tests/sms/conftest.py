"""Fixtures of the SMS tests (defined in harness.py)."""

from tests.sms.harness import database, password

__all__ = ["database", "password"]
