"""Figures derived from the generator's phase reports, and the side-by-side table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from relaybench.runner import ConfigResult, Phase

DASH = "-"
BUSY_WARNING = 0.90


@dataclass(frozen=True)
class PhaseFigures:
    seconds: float
    answered: int
    answered_per_s: float
    p50_us: float
    p99_us: float
    relay_cpu_us_per_pair: float | None
    relay_core_busy: float | None
    loadgen_core_busy: float
    rc_4012: int
    rc_other: int
    unanswered: int
    skipped: int
    hbh_mismatch: int
    unmatched: int


def phase_figures(event: dict[str, Any]) -> PhaseFigures:
    cpu: dict[str, float] = event["cpu_us"]
    window_us = event["seconds"] * 1e6
    relay_cpu = [us for label, us in cpu.items() if label.startswith("relay")]
    relay_us = sum(relay_cpu) if relay_cpu and min(relay_cpu) >= 0 else None
    answered = int(event["answered"])
    return PhaseFigures(
        seconds=event["seconds"],
        answered=answered,
        answered_per_s=event["answered_per_s"],
        p50_us=event["latency_us"]["p50"],
        p99_us=event["latency_us"]["p99"],
        relay_cpu_us_per_pair=relay_us / answered if relay_us is not None and answered else None,
        relay_core_busy=relay_us / window_us if relay_us is not None else None,
        loadgen_core_busy=(cpu.get("gen", 0.0) + cpu.get("stub", 0.0)) / window_us,
        rc_4012=int(event["rc_4012"]),
        rc_other=int(event["rc_other"]),
        unanswered=int(event["unanswered_after_drain"]),
        skipped=int(event["skipped"]),
        hbh_mismatch=int(event["hbh_mismatch"]),
        unmatched=int(event["unmatched"]),
    )


def figures_of(result: ConfigResult) -> dict[str, PhaseFigures]:
    return {key: phase_figures(event) for key, event in result.phases.items()}


# --- cell formatting -----------------------------------------------------------------

def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _us(value: float | None) -> str:
    return DASH if value is None else f"{value:,.0f}"


def _cpu(value: float | None) -> str:
    return DASH if value is None else f"{value:,.1f}"


def _percent(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.0f}%"


def _pair(first: str, second: str) -> str:
    return f"{first} / {second}"


@dataclass(frozen=True)
class Column:
    result: ConfigResult
    figures: dict[str, PhaseFigures]
    baseline: dict[str, PhaseFigures] | None  # direct, when it ran and this is a relay


Cell = Callable[[Column, str], str]


def _phase_cell(render: Callable[[PhaseFigures, PhaseFigures | None], str]) -> Cell:
    def cell(column: Column, key: str) -> str:
        figures = column.figures.get(key)
        if figures is None:
            return DASH
        base = column.baseline.get(key) if column.baseline else None
        return render(figures, base)
    return cell


def _added(figures: PhaseFigures, base: PhaseFigures | None) -> str:
    if base is None:
        return DASH
    return _pair(f"{figures.p50_us - base.p50_us:+,.0f}", f"{figures.p99_us - base.p99_us:+,.0f}")


ADDED_CELL = _phase_cell(_added)

PHASE_ROWS: tuple[tuple[str, Cell], ...] = (
    ("answered CCR/s", _phase_cell(lambda f, _: _rate(f.answered_per_s))),
    ("latency p50 / p99 (us)", _phase_cell(lambda f, _: _pair(_us(f.p50_us), _us(f.p99_us)))),
    ("added by relay p50 / p99 (us)", ADDED_CELL),
    ("relay CPU us per CCR+CCA", _phase_cell(lambda f, _: _cpu(f.relay_cpu_us_per_pair))),
    ("relay core 0 busy", _phase_cell(lambda f, _: _percent(f.relay_core_busy))),
    ("generator+stub core 1 busy", _phase_cell(lambda f, _: _percent(f.loadgen_core_busy))),
)


def _totals(column: Column, attribute: str) -> str:
    if not column.figures:
        return DASH
    return f"{sum(getattr(f, attribute) for f in column.figures.values()):,}"


CHECK_ROWS: tuple[tuple[str, str], ...] = (
    ("answers with Result-Code 4012", "rc_4012"),
    ("answers with other Result-Code", "rc_other"),
    ("unanswered after drain", "unanswered"),
    ("not sent (in-flight cap reached)", "skipped"),
    ("hop-by-hop id not restored", "hbh_mismatch"),
    ("answers matching no request", "unmatched"),
)


def _warnings(column: Column, phase: Phase) -> list[str]:
    figures = column.figures.get(phase.key)
    if figures is None or figures.relay_core_busy is None:
        return []
    where = f"{column.result.name}, {phase_title(phase)}"
    if figures.loadgen_core_busy >= BUSY_WARNING:
        return [f"{where}: generator+stub core {_percent(figures.loadgen_core_busy)} busy: "
                "the load side may be the limit here, not the relay"]
    if phase.rate is None and figures.relay_core_busy < BUSY_WARNING:
        return [f"{where}: relay core only {_percent(figures.relay_core_busy)} busy at "
                "saturation, so the relay was not CPU-bound: another process shared its "
                "core (see the load average) or it waited on its peers; its CPU per pair "
                "holds, its throughput may be understated"]
    return []


def phase_title(phase: Phase) -> str:
    if phase.rate is None:
        return f"Saturation: {phase.window:,} CCRs in flight, {phase.seconds:g} s"
    return f"Fixed rate {phase.rate:,.0f} CCR/s offered, {phase.seconds:g} s"


def build_rows(results: Sequence[ConfigResult], phases: Sequence[Phase]
               ) -> tuple[list[list[str]], list[str]]:
    """Rows of cells (first column = label; a one-cell row is a section title) and notes."""
    direct = next((r for r in results if r.name == "direct" and r.phases), None)
    base = figures_of(direct) if direct else None
    columns = [Column(r, figures_of(r), base if r is not direct else None) for r in results]
    notes: list[str] = []
    status_row = ["status"]
    for column in columns:
        if column.result.ok:
            status_row.append("ok")
        else:
            notes.append(f"{column.result.name}: failed: {column.result.error}")
            status_row.append(f"failed (note {len(notes)})")
    rows: list[list[str]] = [["", *(r.name for r in results)], status_row]
    for phase in phases:
        rows.append([phase_title(phase)])
        for label, cell in PHASE_ROWS:
            if phase.rate is None and cell is ADDED_CELL:
                continue  # at saturation latency is queueing (in flight / throughput)
            rows.append([f"  {label}", *(cell(c, phase.key) for c in columns)])
        for column in columns:
            notes += _warnings(column, phase)
    rows.append(["Answer checks, all phases"])
    for label, attribute in CHECK_ROWS:
        rows.append([f"  {label}", *(_totals(c, attribute) for c in columns)])
    return rows, notes


def render_table(rows: Sequence[Sequence[str]]) -> str:
    width = max(len(row) for row in rows)
    label_width = max(len(row[0]) for row in rows if len(row) > 1)
    cell_width = [max((len(row[i]) for row in rows if len(row) > i), default=0)
                  for i in range(width)]
    lines = []
    for row in rows:
        if len(row) == 1:
            lines.append(row[0])
            continue
        cells = [row[0].ljust(label_width)]
        cells += [row[i].rjust(max(cell_width[i], 12)) for i in range(1, len(row))]
        lines.append("  ".join(cells).rstrip())
    rule = "-" * max(len(line) for line in lines)
    return "\n".join([lines[0], rule, *lines[1:], rule])


def results_json(results: Sequence[ConfigResult]) -> dict[str, Any]:
    configs: dict[str, Any] = {}
    for result in results:
        configs[result.name] = {
            "ok": result.ok,
            "error": result.error,
            "version": result.version,
            "relay_command": result.relay_command,
            "ready_seconds": result.ready_seconds,
            "phases": result.phases,
            "figures": {key: asdict(f) for key, f in figures_of(result).items()},
        }
    return configs
