"""Bad Scrapy settings fail at start-up in one line naming the setting (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_crawl

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("CONCURRENT_REQUESTS", "0", "must be an integer >= 1, got '0'"),
        ("CONCURRENT_REQUESTS", "-3", "must be an integer >= 1, got '-3'"),
        ("CONCURRENT_REQUESTS", "abc", "expected an integer, got 'abc'"),
        ("CONCURRENT_REQUESTS_PER_DOMAIN", "0", "must be an integer >= 1"),
        ("DOWNLOAD_DELAY", "-1", "must be >= 0"),
        ("DOWNLOAD_TIMEOUT", "soon", "expected a number, got 'soon'"),
    ],
)
def test_bad_setting_is_one_line_naming_it(
    tmp_path: Path, setting: str, value: str, message: str
) -> None:
    # An unreachable start URL: the crawl must stop before any request.
    result = run_crawl("http://127.0.0.1:9/", tmp_path, "-s", f"{setting}={value}")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {setting}: {message}")
    assert "Traceback" not in result.stderr
