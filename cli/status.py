"""``beepcall status``: peers, queues, breakers and today's figures, read from the
running interceptor's status endpoint (the ``metrics.listen`` address)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import click

from interceptor.config.loader import load_sections
from interceptor.core.section import ConfigError
from interceptor.metrics.status import StatusDocument


def _url(config_path: str | None, url: str | None) -> str:
    if url:
        return url.rstrip("/") + ("" if url.rstrip("/").endswith("/status") else "/status")
    if config_path:
        try:
            metrics = load_sections(config_path, "metrics").metrics
        except ConfigError as error:
            raise click.ClickException(f"invalid configuration: {error}") from None
        if metrics is None:
            raise click.ClickException(f"{config_path}: no metrics section, so the running "
                                       "interceptor serves no status endpoint")
        host = f"[{metrics.host}]" if ":" in metrics.host else metrics.host
        return f"http://{host}:{metrics.port}/status"
    return "http://127.0.0.1:9464/status"


def _percent(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def render(status: StatusDocument) -> str:
    relay = status.relay
    lines = [f"uptime {status.uptime_s:.0f} s; relayed {relay.requests_relayed} requests, "
             f"{relay.answers_relayed} answers", "", "peers:"]
    for peer in status.peers:
        lines.append(f"  {peer.name:<32} {peer.role:<7} {peer.state:<10} "
                     f"{'up' if peer.up else 'DOWN'}")
    lines.append("queues: " + ", ".join(f"{k} {v}" for k, v in status.queues.items()))
    side = status.side_work
    lines.append(f"side work: {'up' if side.up else 'DOWN'}, restarts {side.restarts}, "
                 f"database {'up' if side.database_up else 'down or unknown'}")
    lines.append("breakers: " + (", ".join(f"{k} {v}" for k, v in status.breakers.items())
                                 or "none configured"))
    today = status.today
    if today is not None:
        lines.append(
            f"today (UTC): {today.attempts} attempts, {today.suppressed} suppressed, "
            f"{today.beeped} beeps ({today.rang} rang), "
            f"{sum(today.sms_by_status.values())} SMS, {today.callbacks} "
            f"callbacks (rate {_percent(today.callback_rate)}, rang -> callback "
            f"{_percent(today.rang_callback_rate)}), {today.topped_up} topped up, "
            f"{today.charged_minutes} charged minutes, revenue {today.revenue}")
    else:
        lines.append("today: not computed yet")
    return "\n".join(lines) + "\n"


@click.command("status")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="The running interceptor's YAML config (its metrics.listen address).")
@click.option("--url", default=None, help="Status endpoint URL (default: the config's, "
              "else http://127.0.0.1:9464/status).")
@click.option("--json", "as_json", is_flag=True, help="The endpoint's JSON as is.")
@click.option("--timeout", default=5.0, show_default=True, type=float)
def status(config_path: str | None, url: str | None, as_json: bool, timeout: float) -> None:
    """Peers, queues, circuit breakers and today's figures of the running interceptor."""
    target = _url(config_path, url)
    try:
        with urllib.request.urlopen(target, timeout=timeout) as response:
            body = response.read()
    except (urllib.error.URLError, OSError) as error:
        raise click.ClickException(f"cannot read {target}: {error}") from None
    document = json.loads(body)
    if as_json:
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(render(StatusDocument.from_json(document)), nl=False)
