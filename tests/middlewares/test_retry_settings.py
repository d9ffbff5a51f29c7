"""Every retry setting is checked when the crawl starts: one ``error:`` line, exit 2.

Scrapy reads RETRY_PRIORITY_ADJUST with ``getint`` (a traceback on ``abc``) and
RETRY_GIVE_UP_LOG_LEVEL only at the first give-up (after the crawl has run for a while).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.middlewares.test_bad_config import assert_one_line_error, crawl

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    "setting",
    [
        "RETRY_PRIORITY_ADJUST=abc",
        "RETRY_GIVE_UP_LOG_LEVEL=LOUD",
        "RETRY_TIMES=2.5",
        "RETRY_EXCEPTIONS=builtins.NoSuchError",
        "RETRY_HTTP_CODES=500,five",
    ],
)
def test_a_bad_retry_setting_stops_the_crawl_at_start(tmp_path: Path, setting: str) -> None:
    assert_one_line_error(crawl(tmp_path, setting), setting.split("=")[0])
