"""``beepcall``: run the interceptor, its demo, and the operators' admin commands."""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from cli.admin import ads, attempts, blacklist, db, mnp, policy, thresholds
from cli.admin.report import report
from cli.status import status
from interceptor import __version__
from interceptor.config.loader import load_config
from interceptor.core.section import ConfigError


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="beepcall")
def main() -> None:
    """Beep Call interceptor: a transparent Diameter Ro/Gy proxy that turns out-of-credit
    call attempts into missed-call beeps."""


@main.command("check-config")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="YAML configuration file.")
def check_config(config_path: str) -> None:
    """Validate a configuration file and exit (non-zero with the error path if invalid)."""
    try:
        load_config(config_path)
    except ConfigError as error:
        raise click.ClickException(f"invalid configuration: {error}") from None
    click.echo(f"{config_path}: OK")


@main.command("run")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="YAML configuration file.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def run(config_path: str, log_level: str) -> None:
    """Run the interceptor until SIGTERM/SIGINT (then DPR to peers and drain)."""
    try:
        config = load_config(config_path)
    except ConfigError as error:
        raise click.ClickException(f"invalid configuration: {error}") from None
    _configure_logging(log_level)
    from interceptor.app.relay import run_forever

    sys.exit(run_forever(config, log_level))


@main.command("demo")
@click.option("--calls", default=40, show_default=True, type=click.IntRange(1, 100000),
              help="How many call attempts the simulated CSCF makes.")
@click.option("--interval", default=0.1, show_default=True, type=click.FloatRange(0, 10),
              help="Seconds between call attempts.")
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Where the demo's SQLite database and spool go (default: a new "
                   "temporary folder).")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def demo(calls: int, interval: float, workdir: str | None, log_level: str) -> None:
    """Run the interceptor on embedded defaults between built-in demo peers on loopback
    (a CSCF sending CCRs, an OCS answering them, some subscribers out of credit)."""
    _configure_logging(log_level)
    from twisted.internet import reactor as global_reactor

    from interceptor.demo.run import run_demo

    reactor: Any = global_reactor
    failures: list[str] = []

    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="beepcall-demo-"))
    folder.mkdir(parents=True, exist_ok=True)

    def start() -> None:
        d = run_demo(reactor, calls, interval, click.echo, folder, log_level=log_level)
        d.addErrback(lambda failure: failures.append(failure.getErrorMessage()))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()
    if failures:
        raise click.ClickException(f"demo failed: {failures[0]}")


# Operators' admin commands (cli/admin/).
main.add_command(blacklist)
main.add_command(attempts)
main.add_command(mnp)
main.add_command(db)
main.add_command(thresholds)
main.add_command(policy)
main.add_command(report)
main.add_command(status)
main.add_command(ads)
