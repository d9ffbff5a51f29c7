"""Hostile pages met as book links: each is recorded with its reason and the crawl goes on.

One crawl of the sandbox's /__hostile/listing.html (see booksscraper/sandbox/hostile.py): a page
over DOWNLOAD_MAXSIZE, a redirect loop, an endless redirect chain, a redirect and a link off
the site, a PDF and a JPEG on book URLs, a gzip bomb, and two real books.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from booksscraper.sandbox.hostile import BOMB_MIB_DEFAULT, HUGE_DEFAULT
from booksscraper.sandbox.testing import running_sandbox
from booksscraper.settings import DOWNLOAD_MAXSIZE
from booksscraper.tools.truth import differences
from tests.helpers import read_books, read_lines
from tests.middlewares.conftest import crawl_stats
from tests.reliability.conftest import Crawl, run_measured_crawl

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    out = tmp_path_factory.mktemp("hostile") / "out"
    with running_sandbox(books=20, seed=7) as sb:
        page = sb.base_url + "__hostile/"
        crawl = run_measured_crawl(page + "listing.html", out, timeout=100)
        yield {
            "page": page,
            "crawl": crawl,
            "out": out,
            "truth": {t["url"]: t for t in sb.truth()},
            "failures": {f["url"]: f for f in read_lines(out / "failures.jsonl")},
            "rejects": read_lines(out / "rejects.jsonl"),
        }


def test_the_crawl_survives_and_keeps_the_real_books(hostile: dict[str, Any]) -> None:
    crawl: Crawl = hostile["crawl"]
    # It finished; the hostile pages it could not have are on record, and the monitors say so.
    assert crawl.returncode == 3, crawl.stderr[-3000:]
    assert "\nerror: monitors failed: rejects_failures: " in crawl.stderr
    assert "Traceback" not in crawl.stderr
    books = read_books(hostile["out"])
    real = [hostile["truth"][b["url"]] for b in books if b["url"] in hostile["truth"]]
    assert len(books) == len(real) == 2
    assert differences(books, real) == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (f"huge-{HUGE_DEFAULT}.html", "maxsize"),
        (f"huge-chunked-{HUGE_DEFAULT}.html", "maxsize"),
        ("loop.html", "redirect_loop"),
        ("chain-0.html", "redirect_max"),
        (f"gzip-bomb-{BOMB_MIB_DEFAULT}.html", "maxsize_decompressed"),
    ],
)
def test_a_page_that_cannot_be_had_is_a_failure_with_its_reason(
    hostile: dict[str, Any], name: str, reason: str
) -> None:
    record = hostile["failures"].get(hostile["page"] + name)
    assert record is not None, hostile["failures"]
    assert record["reason"] == reason
    stats = crawl_stats(hostile["crawl"].stderr)
    same = [f for f in hostile["failures"].values() if f["reason"] == reason]
    assert stats[f"lost/{reason}"] == len(same)
    assert re.search(rf"WARNING: Lost \S+{re.escape(name)}: {reason} ", hostile["crawl"].stderr)


def test_off_site_links_and_redirects_are_not_followed_and_are_recorded(
    hostile: dict[str, Any],
) -> None:
    record = hostile["failures"].get(hostile["page"] + "offsite.html")
    assert record is not None and record["reason"] == "offsite_redirect"
    # The same book linked directly (another host name) is not followed either.
    links = [url for url in hostile["failures"] if url.startswith("http://localhost:")]
    assert len(links) == 1 and hostile["failures"][links[0]]["reason"] == "offsite"
    stats = crawl_stats(hostile["crawl"].stderr)
    assert stats["offsite/filtered"] == 2
    assert stats["lost/offsite_redirect"] == stats["lost/offsite"] == 1
    # Never fetched: the off-site book (host name "localhost") is not in the output.
    assert not any("localhost" in b["url"] for b in read_books(hostile["out"]))
    assert "Crawled (200) <GET http://localhost" not in hostile["crawl"].stderr


def test_non_html_book_urls_are_rejected_as_not_html(hostile: dict[str, Any]) -> None:
    rejects = {r["url"]: r for r in hostile["rejects"]}
    for name in ("book.pdf", "book.jpg"):
        record = rejects[hostile["page"] + name]
        assert record["reasons"] == ["not_html"] and record["stage"] == "malformed_page"
    assert len(hostile["rejects"]) == 2  # fetched once each: no point fetching a PDF again
    assert crawl_stats(hostile["crawl"].stderr)["malformed_page/rejected/not_html"] == 2


def test_the_gzip_bomb_is_cut_at_download_maxsize_and_memory_stays_bounded(
    hostile: dict[str, Any],
) -> None:
    crawl: Crawl = hostile["crawl"]
    decompressed = re.search(r"(\d+) B decompressed so far", crawl.stderr)
    assert decompressed, crawl.stderr[-3000:]
    # Scrapy stops inflating once past the limit (it inflates in chunks).
    assert DOWNLOAD_MAXSIZE < int(decompressed.group(1)) <= DOWNLOAD_MAXSIZE + 2 * MIB
    # The bomb inflates to 512 MiB; the crawl process never held anything near it.
    assert 0 < crawl.max_rss_bytes < BOMB_MIB_DEFAULT * MIB // 2, crawl.max_rss_bytes
