"""The per-request DEBUG line, in a real crawl and for odd User-Agents."""

from __future__ import annotations

import re

import pytest

from booksscraper.middlewares.requestlog import ua_family
from tests.monitoring.conftest import Crawl

pytestmark = pytest.mark.timeout(180)

REQUEST_LINE = re.compile(
    r"\[booksscraper\.middlewares\.requestlog\] DEBUG: GET (?P<url>\S+) "
    r"(?P<outcome>status=\d+|error=\w+) latency=(?P<latency>\d+ms|-) retry=(?P<retry>\d+) "
    r"proxy=(?P<proxy>\S+) ua=(?P<ua>\S+)$",
    re.MULTILINE,
)


def test_one_debug_line_per_download_attempt(plain_crawl: Crawl) -> None:
    stats = plain_crawl.stats
    lines = [m.groupdict() for m in REQUEST_LINE.finditer(plain_crawl.stderr)]
    statuses = [line for line in lines if line["outcome"].startswith("status=")]
    attempts = sum(v for k, v in stats.items() if k.startswith("downloader/response_status_count/"))
    assert len(statuses) == attempts
    assert sum(1 for line in statuses if line["outcome"] == "status=503") == stats.get(
        "downloader/response_status_count/503"
    )
    # Retried attempts carry their retry number; every line has a latency and the UA family.
    assert any(int(line["retry"]) >= 1 for line in statuses)
    assert all(line["latency"].endswith("ms") for line in statuses)
    assert {line["ua"] for line in lines} <= {
        "booksscraper",
        "Chrome",
        "Firefox",
        "Safari",
        "Edge",
        "Opera",
        "Mozilla",
    }
    assert {line["proxy"] for line in lines} == {"-"}


@pytest.mark.parametrize(
    ("user_agent", "family"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "Chrome",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/18.1 Safari/605.1.15",
            "Safari",
        ),
        ("booksscraper/0.1 (+https://github.com/booksscraper/booksscraper)", "booksscraper"),
        ("curl/8.5.0", "curl"),
        ("", "-"),
        (None, "-"),
    ],
)
def test_ua_family(user_agent: str | None, family: str) -> None:
    assert ua_family(user_agent) == family
