"""The stack in another Scrapy project (docs/in-your-project.md): a spider of another page
shape (the category index) crawls through the add-on's middlewares against a sandbox that
answers 503 to a fifth of its pages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from booksscraper.sandbox.testing import running_sandbox
from tests.helpers import REPO, read_lines


def test_a_spider_of_another_project_crawls_through_the_addon(tmp_path: Path) -> None:
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "tests.another_project.settings",
           "PYTHONPATH": str(REPO)}
    with running_sandbox(books=200, seed=5, fault_503=0.2) as site:
        result = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "categories", "-a",
             f"start_url={site.base_url}", "-O", "categories.jsonl", "-s", "LOG_LEVEL=INFO"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False)
        truth = site.truth()
    assert result.returncode == 0, result.stderr[-3000:]
    categories = read_lines(tmp_path / "categories.jsonl")
    assert len(categories) == 50
    assert sum(row["books"] for row in categories) == len(truth)
    # The add-on's retry middleware did the work (backoff between attempts), its extensions
    # wrote stats.json and monitor.jsonl, and the books pipelines wrote nothing.
    stats = json.loads((tmp_path / "output" / "stats.json").read_text())
    assert stats["retry/reason_count/http_503"] > 0
    assert stats["retry/backoff/count"] == stats["retry/count"]
    assert "Crawl summary (finished): 50 items" in result.stderr
    written = {path.name for path in (tmp_path / "output").iterdir()}
    assert {"stats.json", "monitor.jsonl"} <= written
    assert not written & {"books.jsonl", "books.json", "rejects.jsonl", "incremental"}
