"""Integration-test fixtures: re-exported from the helper modules of this folder."""

from capture import packet_capture_factory  # noqa: F401
from freediameter import diameter_stub_factory, freediameter_factory  # noqa: F401
