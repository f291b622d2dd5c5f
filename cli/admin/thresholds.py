"""``beepcall thresholds``: the policy's tunables in SQL, with an audit trail.

Running interceptors reload them every ``policy.refresh`` seconds (2 by default), so a
change applies within a few seconds, without a restart.
"""

from __future__ import annotations

import click

from cli.admin.blacklist import default_user
from cli.admin.context import config_path, database_options, database_target
from cli.admin.errors import AdminError, database_errors
from cli.admin.output import echo_json, echo_table
from interceptor.config.loader import load_sections
from interceptor.core.section import ConfigError
from interceptor.policy import threshold_store as store
from interceptor.policy.config import PolicyConfig
from interceptor.policy.thresholds import SPECS, ThresholdError, spec_for


def load_policy_config(path: str | None) -> PolicyConfig:
    """The ``policy`` section of ``--config`` (with ``sip.limits`` seeding the global
    limits), else the built-in defaults."""
    if path is None:
        return PolicyConfig(defaults={key: spec.default for key, spec in SPECS.items()})
    try:
        return load_sections(path, "policy").policy or PolicyConfig()
    except ConfigError as error:
        raise AdminError(f"invalid configuration: {error}") from None


@click.group("thresholds")
@database_options
def thresholds() -> None:
    """The policy's thresholds: show, set, reset, and who changed what when.

    Limits take `off` to disable the rule. Running interceptors apply changes within a
    few seconds (policy.refresh).
    """


@thresholds.command("show")
@database_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(as_json: bool) -> None:
    """Every threshold: its value, where it comes from, and what it means."""
    policy = load_policy_config(config_path())
    engine = database_target().engine()
    with database_errors(engine):
        stored = store.load_all(engine)
    rows = []
    for key, spec in SPECS.items():
        row = stored.get(key)
        default = spec.format(policy.defaults.get(key, spec.default))
        rows.append({"key": key, "value": row.value if row else default,
                     "source": f"set by {row.updated_by}" if row else "config default",
                     "default": default, "meaning": spec.help,
                     "updated_at": row.updated_at if row else None})
    if as_json:
        echo_json(rows)
    else:
        echo_table(rows, ("key", "value", "default", "source", "meaning"))


@thresholds.command("set", context_settings={"ignore_unknown_options": True})
@database_options
@click.argument("key")
@click.argument("value")
@click.option("--by", "by", default=None, help="Who changes it (default: your OS user).")
def set_(key: str, value: str, by: str | None) -> None:
    """Set KEY to VALUE (checked against the key's type and range)."""
    try:
        spec = spec_for(key)
        text = spec.format(spec.parse(value))
    except ThresholdError as error:
        raise AdminError(f"{key}: {error}") from None
    engine = database_target().engine()
    with database_errors(engine):
        old = store.change(engine, key, text, by or default_user(), "set")
    click.echo(f"{key}: {old if old is not None else '(default)'} -> {text}")


@thresholds.command("reset")
@database_options
@click.argument("key")
@click.option("--by", "by", default=None, help="Who changes it (default: your OS user).")
def reset(key: str, by: str | None) -> None:
    """Put KEY back to its configuration default (--config), else the built-in one."""
    try:
        spec = spec_for(key)
    except ThresholdError as error:
        raise AdminError(str(error)) from None
    policy = load_policy_config(config_path())
    text = spec.format(policy.defaults.get(key, spec.default))
    engine = database_target().engine()
    with database_errors(engine):
        old = store.change(engine, key, text, by or default_user(), "reset")
    click.echo(f"{key}: {old if old is not None else '(default)'} -> {text} (default)")


@thresholds.command("history")
@database_options
@click.argument("key", required=False)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def history(key: str | None, limit: int, as_json: bool) -> None:
    """Who changed which threshold when, from what to what (newest first)."""
    if key is not None:
        try:
            spec_for(key)
        except ThresholdError as error:
            raise AdminError(str(error)) from None
    engine = database_target().engine()
    with database_errors(engine):
        entries = store.history(engine, key, limit)
    rows = [{"changed_at": entry.changed_at, "key": entry.key, "action": entry.action,
             "old": entry.old_value, "new": entry.new_value, "by": entry.changed_by}
            for entry in entries]
    if as_json:
        echo_json(rows)
    else:
        echo_table(rows, ("changed_at", "key", "action", "old", "new", "by"))
