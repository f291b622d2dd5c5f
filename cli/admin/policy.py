"""``beepcall policy explain A B``: would a beep from A to B go now, and why not."""

from __future__ import annotations

from typing import Any

import click

from cli.admin.context import config_path, database_options, database_target
from cli.admin.errors import AdminError, database_errors
from cli.admin.numbering import InvalidNumberError, load_normaliser, numbering_config
from cli.admin.output import echo_json
from cli.admin.thresholds import load_policy_config
from cli.admin.timeparse import format_instant, parse_instant
from interceptor.policy import threshold_store as thresholds_sql
from interceptor.policy.explain import explain as explain_policy
from interceptor.policy.thresholds import SPECS, Thresholds
from interceptor.storage import portability
from interceptor.storage.types import utcnow


class _DatabasePortability:
    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def status(self, e164: str) -> Any:
        item = portability.lookup(self._engine, e164)
        return None if item is None else item.status


@click.group("policy")
@database_options
def policy() -> None:
    """The beep policy: which rule allows or refuses a beep, and why."""


@policy.command("explain")
@database_options
@click.argument("caller")
@click.argument("callee")
@click.option("--at", "at", default=None, metavar="TIME",
              help="ISO datetime to judge at (default: now); naive means UTC.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def explain(caller: str, callee: str, at: str | None, as_json: bool) -> None:
    """Every rule for a beep from CALLER to CALLEE, with the counters it uses.

    Read-only: nothing is counted. Circuit breakers live in the running process
    (beepcall status).
    """
    path = config_path()
    normalise = load_normaliser(path)
    try:
        a, b = normalise(caller), normalise(callee)
    except InvalidNumberError as error:
        raise AdminError(str(error)) from None
    try:
        when = parse_instant(at) if at is not None else utcnow()
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--at") from None
    config = load_policy_config(path)
    engine = database_target().engine()
    with database_errors(engine):
        merged = {key: SPECS[key].format(value) for key, value in config.defaults.items()}
        merged.update(thresholds_sql.load(engine))
        result = explain_policy(engine, Thresholds.from_text(merged), config.zone,
                                numbering_config(path), a, b, when,
                                _DatabasePortability(engine))
    if as_json:
        echo_json({"caller": a, "callee": b, "callee_class": result.callee_class,
                   "at": result.at, "decision": result.decision,
                   "rules": [{"rule": rule.rule, "allows": rule.allows, "why": rule.why}
                             for rule in result.rules]})
        return
    click.echo(f"beep {a} -> {b} ({result.callee_class}) at {format_instant(when)}: "
               f"{result.decision.upper()}")
    width = max(len(rule.rule) for rule in result.rules)
    for rule in result.rules:
        verdict = "allow " if rule.allows else "REFUSE"
        click.echo(f"  {verdict}  {rule.rule.ljust(width)}  {rule.why}")
