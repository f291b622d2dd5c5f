"""Configuration: YAML parsed once into typed, validated objects.

Each error is a :class:`ConfigError` naming the path of the bad value, e.g.
``peers.ocs[1].port: must be 1..65535``.
"""

from interceptor.config.errors import ConfigError
from interceptor.config.loader import InterceptorConfig, load_config, parse_config

__all__ = ["ConfigError", "InterceptorConfig", "load_config", "parse_config"]
