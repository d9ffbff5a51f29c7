"""Fixtures for the monitoring tests: a sandbox slow enough for several samples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import read_lines, run_crawl

BOOKS = 300


@pytest.fixture(scope="package")
def slow_sandbox() -> Iterator[Any]:
    """300 books with 20-60 ms per page and a few 503s: a ~3 s crawl with retries."""
    from booksscraper.sandbox.testing import running_sandbox

    with running_sandbox(
        books=BOOKS, seed=11, latency_ms=20, jitter_ms=40, fault_503=0.03
    ) as server:
        yield server


@dataclass
class Crawl:
    returncode: int
    stdout: str
    stderr: str
    out_dir: Path

    @property
    def stats(self) -> dict[str, Any]:
        return json.loads((self.out_dir / "stats.json").read_text(encoding="utf-8"))

    @property
    def samples(self) -> list[dict[str, Any]]:
        return read_lines(self.out_dir / "monitor.jsonl")


def crawl(sandbox: Any, out_dir: Path, *settings: str, timeout: float = 120) -> Crawl:
    """`scrapy crawl books` with ``-s`` for each ``NAME=value`` in ``settings``."""
    args = [arg for setting in settings for arg in ("-s", setting)]
    result = run_crawl(sandbox.base_url, out_dir, *args, timeout=timeout)
    return Crawl(result.returncode, result.stdout, result.stderr, out_dir)


@pytest.fixture(scope="package")
def plain_crawl(slow_sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    """One crawl with stdout a pipe (as under scrapyd or CI), sampled every 0.2 s."""
    result = crawl(
        slow_sandbox,
        tmp_path_factory.mktemp("plain"),
        "MONITOR_INTERVAL=0.2",
        "PROGRESS_INTERVAL=0.5",
        "LOG_LEVEL=DEBUG",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result
