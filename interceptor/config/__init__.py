"""Configuration: YAML parsed once into typed, validated objects.

Each error is a :class:`ConfigError` naming the path of the bad value, e.g.
``peers.ocs[1].port: must be 1..65535``. The whole file is read by
:mod:`interceptor.config.loader`; each section's parser lives beside the code it
configures and builds on :class:`interceptor.core.section.Section`.
"""

from interceptor.core.section import ConfigError

__all__ = ["ConfigError"]
