"""Real `scrapy crawl books` runs against the sandbox over loopback sockets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from parsel import Selector

from booksscraper.tools.truth import differences
from tests.helpers import REPO, free_port, read_books, read_lines, run_crawl

pytestmark = pytest.mark.timeout(300)


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_full_crawl_matches_ground_truth(sandbox: Any, sandbox_truth: list, tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    result = run_crawl(sandbox.base_url, tmp_path, "-O", str(feed))
    assert result.returncode == 0, result.stderr[-3000:]
    books = read_books(tmp_path)
    assert len(books) == len(sandbox_truth) == 1000
    assert differences(books, sandbox_truth) == []
    # The crash-safe JSON lines hold the same books, each once.
    lines = read_lines(tmp_path / "books.jsonl")
    assert sorted(b["upc"] for b in lines) == sorted(b["upc"] for b in books)
    assert read_lines(tmp_path / "rejects.jsonl") == []
    # Scrapy's own feed export (-O) works beside ours, prices as exact strings.
    feed_books = read_books_from(feed)
    assert len(feed_books) == 1000
    assert all(isinstance(b["price"], str) for b in feed_books)
    assert "Traceback" not in result.stderr


def read_books_from(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_a_category_start_url_crawls_that_category_only(
    sandbox: Any, sandbox_truth: list, tmp_path: Path
) -> None:
    # The category with the most books, so it has several listing pages.
    by_category: dict[str, list[dict]] = {}
    for book in sandbox_truth:
        by_category.setdefault(book["category"], []).append(book)
    name, books = max(by_category.items(), key=lambda kv: len(kv[1]))
    assert len(books) > 20
    home = sandbox.base_url
    page = _fetch(home)
    slug = _category_href(page, name)
    result = run_crawl(home + slug, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert differences(read_books(tmp_path), books) == []


def _fetch(url: str) -> str:
    return requests.get(url, timeout=10).text


def _category_href(home_html: str, name: str) -> str:
    for link in Selector(text=home_html).css("div.side_categories ul li ul li a"):
        if " ".join(link.css("::text").get("").split()) == name:
            return link.attrib["href"]
    raise AssertionError(f"category {name!r} not in the sidebar")


def test_a_book_start_url_gives_that_book(
    sandbox: Any, sandbox_truth: list, tmp_path: Path
) -> None:
    book = sandbox_truth[41]
    result = run_crawl(book["url"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert differences(read_books(tmp_path), [book]) == []


@pytest.mark.parametrize(
    ("start_url", "message"),
    [
        ("ftp://books.toscrape.com/", "error: start_url: unsupported scheme 'ftp'"),
        ("books.toscrape.com/catalogue", "error: start_url: not an absolute URL"),
        ("http://[::1/", "error: start_url: malformed URL"),
        ("http://", "error: start_url: no host"),
    ],
)
def test_bad_start_url_is_one_line_and_exit_2(tmp_path: Path, start_url: str, message: str) -> None:
    result = run_crawl(start_url, tmp_path)
    assert result.returncode == 2
    assert last_line(result.stderr).startswith(message)
    assert "Traceback" not in result.stderr


def test_unwritable_output_dir_is_one_line_and_exit_2(sandbox: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_crawl(sandbox.base_url, blocker / "out")
    assert result.returncode == 2
    assert last_line(result.stderr).startswith("error: ")
    assert "cannot create folder" in last_line(result.stderr)
    assert "Traceback" not in result.stderr


def test_bad_refetch_setting_names_the_setting(sandbox: Any, tmp_path: Path) -> None:
    result = run_crawl(sandbox.base_url, tmp_path, "-s", "REFETCH_INVALID_PAGES=-1")
    assert result.returncode == 2
    assert last_line(result.stderr).startswith("error: REFETCH_INVALID_PAGES:")


def test_unreachable_start_url_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    port = free_port()  # nobody listens there
    result = run_crawl(f"http://127.0.0.1:{port}/", tmp_path, "-s", "RETRY_TIMES=0")
    assert result.returncode == 1
    line = last_line(result.stderr)
    assert line.startswith("error: crawl did not finish (start_url_failed)")
    assert f"127.0.0.1:{port}" in line and "refused" in line.lower()
    assert read_books(tmp_path) == []
    # robots.txt was unreachable too: one line about it, no traceback anywhere.
    assert "Error downloading" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_scrapyd_job_id_gets_its_own_output_folder(sandbox: Any, tmp_path: Path) -> None:
    # Run outside the repository, as scrapyd does: the project comes from the settings module.
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "booksscraper.settings", "PYTHONPATH": str(REPO)}
    book = sandbox.base_url + "catalogue/page-50.html"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "books", "-a", f"start_url={book}",
         "-a", "_job=job-42"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(read_books(tmp_path / "output" / "job-42")) == 20
    assert not (tmp_path / "output" / "books.json").exists()
