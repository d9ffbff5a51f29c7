"""CONCURRENT_REQUESTS_PER_DOMAIN holds during bursts (Scrapy 2.19 lets a burst through)."""

from __future__ import annotations

from pathlib import Path

import pytest

from booksscraper.sandbox.testing import running_sandbox
from tests.helpers import read_books, run_crawl

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize(
    ("downloader", "limited"),
    [("booksscraper.pacing.downloader.PerSlotLimitDownloader", True),
     ("scrapy.core.downloader.Downloader", False)],
)
def test_the_server_never_sees_more_than_the_per_domain_limit(
    tmp_path: Path, downloader: str, limited: bool
) -> None:
    with running_sandbox(books=200, seed=2, latency_ms=30) as sandbox:
        result = run_crawl(
            sandbox.base_url, tmp_path,
            "-s", "CONCURRENT_REQUESTS=64", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4",
            "-s", f"DOWNLOADER={downloader}",
        )
        peak = sandbox.stats()["peak_in_flight"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(read_books(tmp_path)) == 200
    if limited:
        assert peak <= 4
    else:  # the control: Scrapy's own downloader lets the first burst through
        assert peak > 4
