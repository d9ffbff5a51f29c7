"""`make experiment`'s verdict says only what the runs show; its sweep comes from the command
line. The committed runs.csv is real data from `make experiment REPEATS=3`."""

from __future__ import annotations

import argparse
import csv

import pytest

from benchmarks.experiment import Run, concurrency_values, plan, verdict
from tests.helpers import REPO

RESULTS = REPO / "benchmarks" / "results" / "politeness"


def committed_runs(books: int | None = None) -> list[Run]:
    with (RESULTS / "runs.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    runs = []
    for row in rows:
        results = {key: float(value) for key, value in row.items()
                   if key not in ("name", "kind") and value != ""}
        if books is not None:
            results["books"] = results["books_expected"] = books
        runs.append(Run(row["name"], row["kind"], {}, int(results["concurrency"]), results))
    return runs


def test_autothrottle_is_not_called_a_fixed_setting() -> None:
    lines = verdict(committed_runs(), repeats=3)
    assert "autothrottle t=4 c=16** (AutoThrottle)" in lines[0]
    assert not any("fixed setting" in line for line in lines)
    assert lines[-1].endswith("every book): **met** in this run.")


def test_a_quick_run_is_not_judged() -> None:
    lines = verdict(committed_runs(books=60), repeats=1)
    assert "**not judged**" in lines[-1]
    assert "met" not in lines[-1].replace("not judged", "")


def test_one_crawl_per_setting_says_how_far_to_trust_it() -> None:
    assert "REPEATS=3" in verdict(committed_runs(), repeats=1)[-1]


def test_the_sweep_is_chosen_on_the_command_line() -> None:
    assert concurrency_values("1 2 4 8 16") == (1, 2, 4, 8, 16)
    assert concurrency_values("16,4") == (4, 16)
    assert [run.name for run in plan(False, (2, 3))][:3] == ["fixed c=2", "fixed c=3",
                                                             "delay 0.01s c=16"]
    for bad in ("", "0 4", "four"):
        with pytest.raises(argparse.ArgumentTypeError):
            concurrency_values(bad)
