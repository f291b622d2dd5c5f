"""The callbacks and metrics sections: defaults, values, errors naming their path."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from interceptor.config.loader import parse_config
from interceptor.core.section import ConfigError
from tests.diameter.harness import agent_config


def _parse(extra: dict[str, Any]) -> Any:
    return parse_config({**agent_config([("ocs1.test", 3868)]), **extra})


def test_defaults_and_values() -> None:
    config = _parse({})
    assert config.callbacks.window == 1800 and config.callbacks.enabled
    assert config.metrics is None
    config = _parse({"callbacks": {"window": 600, "currency": "USD",
                                   "tariffs": {"on_net": 0.05, "international": 1}},
                     "metrics": {"listen": "0.0.0.0:9500"}})
    assert config.callbacks.tariffs == {"on_net": Decimal("0.05"), "international": Decimal(1)}
    assert config.callbacks.revenue("on_net", 90) == Decimal("0.08")  # 1.5 min at 0.05
    assert config.callbacks.revenue("off_net", 90) == Decimal(0)  # no tariff: no revenue
    assert (config.metrics.host, config.metrics.port) == ("0.0.0.0", 9500)


@pytest.mark.parametrize(("extra", "message"), [
    ({"callbacks": {"window": 0}}, "callbacks.window: must be 1.0..604800.0"),
    ({"callbacks": {"tariffs": {"onnet": 5}}}, "callbacks.tariffs.onnet: unknown callee"),
    ({"callbacks": {"tariffs": {"on_net": -1}}}, "callbacks.tariffs.on_net: must be >= 0"),
    ({"callbacks": {"windw": 60}}, "callbacks.windw: unknown setting"),
    ({"metrics": {"listen": "localhost"}}, "metrics.listen: must be ADDRESS:PORT"),
    ({"metrics": {"listen": "127.0.0.1:70000"}}, "metrics.listen: must be ADDRESS:PORT"),
    ({"metrics": {"latency_sample": 48}}, "metrics.latency_sample: must be a power of two"),
])
def test_errors_name_the_path(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _parse(extra)
    assert str(error.value).startswith(message)
