"""Beep Call interceptor: a transparent Diameter Ro/Gy proxy with out-of-credit beeps."""

__version__ = "0.1.0"
