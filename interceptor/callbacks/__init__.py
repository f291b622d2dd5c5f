"""Callback attribution: did B call A back after the beep (or A call B once topped up),
how long was the charged call, what did it earn."""

from interceptor.callbacks.config import CallbacksConfig, parse_callbacks

__all__ = ["CallbacksConfig", "parse_callbacks"]
