"""Plain tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import click

from cli.admin.timeparse import format_instant


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_instant(value)
    return value


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, default=jsonable, ensure_ascii=False, indent=2))


def echo_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Left-aligned columns under an upper-case header; nothing but a note when empty."""
    if not rows:
        click.echo("(none)", err=True)
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[index]) for line in cells))
              for index, column in enumerate(columns)]
    header = [column.upper() for column in columns]
    for line in [header, *cells]:
        click.echo("  ".join(text.ljust(width) for text, width in zip(line, widths,
                                                                        strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return format_instant(value)
    return " ".join(str(value).split())
