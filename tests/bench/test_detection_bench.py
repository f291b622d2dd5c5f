"""The hot-path micro-benchmark runs, and nothing is pathologically slow.

Real figures: ``python -m bench.detection_bench``. The bound here is deliberately
loose (shared CI machines): it catches an accidental decode of the whole message, not a
10% regression.
"""

from __future__ import annotations

import pytest

from bench import detection_bench as benchmark


def test_benchmark_cases_stay_well_below_a_budget() -> None:
    for name, function in benchmark.cases():
        assert benchmark.measure(function, number=200, repeat=3) < 500.0, name


def test_benchmark_main_prints_one_line_per_case(capsys: pytest.CaptureFixture[str]) -> None:
    benchmark.main(["--number", "10", "--repeat", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(benchmark.cases())
    assert all(line.split()[1] == "us" for line in lines)
