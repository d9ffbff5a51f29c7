"""MemoryTrim: glibc's malloc_trim every MEMORY_TRIM_INTERVAL seconds during a real crawl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from booksscraper.extensions.trim import glibc_malloc_trim
from tests.helpers import run_crawl

pytestmark = pytest.mark.timeout(300)


def stats_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "stats.json").read_text())


def test_memory_is_trimmed_during_the_crawl(sandbox: Any, tmp_path: Path) -> None:
    if glibc_malloc_trim() is None:
        pytest.skip("not glibc: malloc_trim does not exist here")
    # The last 10 listing pages (200 books): the size of the catalogue proves nothing here.
    result = run_crawl(f"{sandbox.base_url}catalogue/page-41.html", tmp_path,
                       "-s", "MEMORY_TRIM_INTERVAL=0.1")
    assert result.returncode == 0, result.stderr[-3000:]
    stats = stats_of(tmp_path)
    assert stats["item_scraped_count"] == 200
    # A 200-book crawl lasts over half a second: several trims, each well under the interval.
    assert stats["memory_trim/calls"] >= 3
    assert stats["memory_trim/seconds"] / stats["memory_trim/calls"] < 0.1


def test_zero_switches_it_off(sandbox_truth: list[dict[str, Any]], tmp_path: Path) -> None:
    # One book page is enough: an interval of 0 taken literally would trim on every reactor
    # turn, and the default interval (5 s) never fires in a crawl this short or the catalogue's.
    result = run_crawl(sandbox_truth[0]["url"], tmp_path, "-s", "MEMORY_TRIM_INTERVAL=0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "memory_trim/calls" not in stats_of(tmp_path)


@pytest.mark.parametrize("value", ["soon", "-1"])
def test_a_bad_interval_names_the_setting(tmp_path: Path, value: str) -> None:
    result = run_crawl("http://127.0.0.1:9/", tmp_path, "-s", f"MEMORY_TRIM_INTERVAL={value}")
    assert result.returncode == 2
    assert "MEMORY_TRIM_INTERVAL" in result.stderr.strip().splitlines()[-1]
