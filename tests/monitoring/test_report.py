"""`python -m booksscraper.report OUTPUT_DIR` on a real crawl's output."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from booksscraper.extensions.counters import pages_discovered
from tests.helpers import REPO
from tests.monitoring.conftest import Crawl

pytestmark = pytest.mark.timeout(120)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def make_report(out_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "booksscraper.report", str(out_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_report_links_every_chart_it_draws(plain_crawl: Crawl, tmp_path: Path) -> None:
    out_dir = tmp_path / "crawl"
    shutil.copytree(plain_crawl.out_dir, out_dir)
    result = make_report(out_dir)
    assert result.returncode == 0, result.stderr
    report = out_dir / "report.md"
    assert result.stdout.strip() == str(report)
    text = report.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", text)
    assert sorted(links) == [
        "report/categories.png",
        "report/latency.png",
        "report/prices.png",
        "report/ratings_availability.png",
        "report/resources.png",
        "report/status_codes.png",
        "report/throughput.png",
    ]
    for link in links:
        image = out_dir / link
        width, height = png_size(image)
        assert width >= 600 and height >= 200
        assert image.stat().st_size > 10_000, f"{link} looks empty"
    # No proxies in this crawl: the report says so instead of an empty chart.
    assert "No proxies were used in this crawl." in text
    assert not (out_dir / "report" / "proxies.png").exists()
    stats = plain_crawl.stats
    assert f"| Books exported | {stats['item_scraped_count']} |" in text
    assert f"| Retries | {stats['retry/count']} |" in text
    assert f"| Pages (responses) | {pages_discovered(stats)} |" in text  # not robots.txt
    # The data, as books.json has it; the monitors' verdicts.
    books = json.loads((out_dir / "books.json").read_text(encoding="utf-8"))
    categories = {book["category"] for book in books}
    in_stock = sum(book["in_stock"] for book in books)
    assert f"{len(books)} books in {len(categories)} categories; {in_stock} in stock." in text
    assert "_No reject and no failure._" in text
    assert "## Monitors" in text and "checks, all passed (1 skipped)." in text


def test_report_without_a_crawl_is_a_one_line_error(tmp_path: Path) -> None:
    result = make_report(tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "stats.json not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_report_on_close(slow_sandbox: object, tmp_path: Path) -> None:
    from tests.monitoring.conftest import crawl

    result = crawl(slow_sandbox, tmp_path, "REPORT_ON_CLOSE=True", "MONITOR_INTERVAL=0.5")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Crawl report: {tmp_path / 'report.md'}" in result.stderr
    assert (tmp_path / "report" / "throughput.png").stat().st_size > 10_000
