"""Scrapy's commands on the books spider, against the sandbox's default catalogue: `parse`,
`shell`, `fetch` on a page with no `-a`, and `check` running the spider's contracts."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from booksscraper.sandbox.testing import running_sandbox
from tests.helpers import REPO

BOOK = "catalogue/curly-mind_988/index.html"  # in the contracts of spiders/books.py


@pytest.fixture(scope="module")
def default_site() -> Iterator[Any]:
    """`python -m booksscraper.sandbox` as the docs run it: 1000 books, seed 0."""
    with running_sandbox(books=1000, seed=0) as server:
        yield server


def scrapy(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scrapy", *args], cwd=REPO, input=stdin,
                          capture_output=True, text=True, timeout=120, check=False)


def test_parse_of_a_book_page_yields_its_item_with_no_argument(default_site: Any) -> None:
    result = scrapy("parse", "--nolog", default_site.base_url + BOOK, "--spider", "books")
    assert result.returncode == 0, result.stderr
    items = result.stdout.split("# Scraped Items", 1)[1].split("\n", 1)[1]
    items = items.split("# Requests", 1)[0]
    assert "'book_id': 988" in items and "'title': '“Curly” Mind'" in items
    assert items.count("'upc':") == 1


def test_parse_says_what_it_did_not_write_and_fails_without_a_response(default_site: Any
                                                                       ) -> None:
    # Another site's spider: the page is offsite, dropped, and nothing is written.
    result = scrapy("parse", default_site.base_url + BOOK, "--spider", "books",
                    "-a", "start_url=https://books.toscrape.com/")
    assert result.returncode == 1
    assert "offsite" in result.stderr and "not written: output is off" in result.stderr
    assert "written to the failures file" not in result.stderr


def test_shell_and_fetch_work_on_a_page_of_the_site(default_site: Any) -> None:
    url = default_site.base_url + BOOK
    fetched = scrapy("fetch", "--nolog", "--spider", "books", url)
    assert fetched.returncode == 0 and "curly-mind_988" in fetched.stdout
    shell = scrapy("shell", "--nolog", "--spider", "books", url,
                   stdin="print(repr((response.status, response.css('h1::text').get())))\n")
    shown = [line.removeprefix(">>> ") for line in shell.stdout.splitlines()]
    assert [ast.literal_eval(line) for line in shown if line.startswith("(")] == [
        (200, "“Curly” Mind")]


def test_check_runs_the_spiders_contracts(default_site: Any) -> None:
    result = scrapy("check", "books", "-a", f"start_url={default_site.base_url}")
    assert result.returncode == 0, result.stderr
    assert "Ran 5 contracts" in result.stderr and "OK" in result.stderr


def test_check_without_the_site_is_one_line() -> None:
    result = scrapy("check", "books")
    assert result.returncode == 2
    assert result.stderr.startswith("error: give -a start_url=")
    assert len(result.stderr.splitlines()) == 1
