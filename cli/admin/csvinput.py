"""Reading operator CSV files: header check, line numbers for every row."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from cli.admin.errors import AdminError


@dataclass(frozen=True)
class CsvRow:
    line: int
    values: dict[str, str]


def read_rows(stream: IO[str], name: str, required: Sequence[str],
              optional: Sequence[str]) -> Iterator[CsvRow]:
    """Rows keyed by header name (values stripped). The header must name every required
    column and nothing unknown; rows with too many cells are reported, not guessed."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise AdminError(f"{name}: empty file (expected a header row: "
                         f"{','.join([*required, *optional])})") from None
    except csv.Error as error:
        raise AdminError(f"{name}: line 1: {error}") from None
    columns = [column.strip().lstrip("\ufeff").lower() for column in header]
    missing = [column for column in required if column not in columns]
    unknown = [column for column in columns if column not in (*required, *optional)]
    duplicated = {column for column in columns if columns.count(column) > 1}
    if missing or unknown or duplicated:
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown column(s) {', '.join(unknown)}")
        if duplicated:
            problems.append(f"repeated column(s) {', '.join(sorted(duplicated))}")
        raise AdminError(f"{name}: line 1: bad header ({'; '.join(problems)}); expected "
                         f"{','.join([*required, *optional])}")
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise AdminError(f"{name}: line {reader.line_num}: {error}") from None
        if not any(cell.strip() for cell in cells):
            continue  # blank line
        if len(cells) > len(columns):
            yield CsvRow(reader.line_num, {"__error__": f"{len(cells)} values for "
                                                         f"{len(columns)} columns"})
            continue
        values = {column: (cells[index].strip() if index < len(cells) else "")
                  for index, column in enumerate(columns)}
        yield CsvRow(reader.line_num, values)


def report_errors(name: str, errors: Sequence[str], limit: int = 50) -> AdminError:
    shown = list(errors[:limit])
    if len(errors) > limit:
        shown.append(f"... and {len(errors) - limit} more")
    lines = "\n".join(f"  {name}: {error}" for error in shown)
    return AdminError(f"{len(errors)} bad row(s), nothing imported:\n{lines}")
