"""Nothing lost, nothing silent: pages the engine drops, pages that are not what they claim.

Each crawl meets a one-time or a lasting fault on chosen paths of the sandbox
(``path_faults`` / ``broken_paths``). A one-time fault must cost nothing: every book is
exported. A lasting one is named in failures.jsonl or rejects.jsonl, and the listing window
still reaches every other page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from booksscraper.sandbox.testing import RunningSandbox, running_sandbox
from booksscraper.tools.truth import differences
from tests.helpers import read_books, read_lines, run_crawl

pytestmark = pytest.mark.timeout(180)

BOOKS = 160  # 8 listing pages of 20: page 5 has pages after it
STORM_BOOKS = 300  # 15 listing pages: enough of them for a listing storm of 30 %
WINDOW = ("-s", "LISTING_LOOKAHEAD=3", "-s", "RETRY_BACKOFF_BASE=0.05")
PAGE_5 = "/catalogue/page-5.html"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox(books=BOOKS, seed=11) as sb:
        sb.truth_cache = sb.truth()  # type: ignore[attr-defined]
        yield sb


@pytest.fixture
def site(sandbox: RunningSandbox) -> Iterator[RunningSandbox]:
    sandbox.reset()  # its counters
    yield sandbox
    sandbox.configure(path_faults={}, broken_paths={})


def books_of_listing(truth: list[dict], page: int) -> set[str]:
    """URLs of the books listing page ``page`` shows (id descending, 20 a page)."""
    ordered = sorted(truth, key=lambda t: -t["book_id"])
    return {t["url"] for t in ordered[(page - 1) * 20 : page * 20]}


@pytest.mark.parametrize("fault", ["redirect_self", "redirect_offsite", "captcha"])
@pytest.mark.parametrize("path", [PAGE_5, "/"])
def test_a_one_time_fault_on_a_listing_page_costs_no_book(
    site: RunningSandbox, tmp_path: Path, fault: str, path: str
) -> None:
    site.configure(path_faults={path: [fault]})
    result = run_crawl(site.base_url, tmp_path, *WINDOW)
    assert result.returncode == 0, result.stderr[-3000:]
    assert differences(read_books(tmp_path), site.truth_cache) == []  # type: ignore[attr-defined]
    assert read_lines(tmp_path / "failures.jsonl") == []
    assert site.stats()["faults"] == {fault: 1}


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("redirect_self", "redirect_loop"), ("redirect_offsite", "offsite_redirect"),
     ("captcha", "not_a_listing"), ("503", "http_503")],
)
def test_a_listing_page_lost_for_good_is_named_and_the_pages_after_it_still_come(
    site: RunningSandbox, tmp_path: Path, fault: str, reason: str
) -> None:
    site.configure(broken_paths={PAGE_5: fault})
    result = run_crawl(site.base_url, tmp_path, *WINDOW)
    # Finished, page 5's books missing: the items monitor fails it (exit 3).
    assert result.returncode == 3, result.stderr[-3000:]
    assert "\nerror: monitors failed: items: 140 of 160 books exported" in result.stderr
    truth = site.truth_cache  # type: ignore[attr-defined]
    lost = books_of_listing(truth, 5)
    exported = {b["url"] for b in read_books(tmp_path)}
    assert exported == {t["url"] for t in truth} - lost
    failures = read_lines(tmp_path / "failures.jsonl")
    assert [(f["url"], f["reason"]) for f in failures] == [(site.base_url + PAGE_5[1:], reason)]


def test_the_home_page_lost_for_good_is_an_error_not_an_empty_success(
    site: RunningSandbox, tmp_path: Path
) -> None:
    site.configure(broken_paths={"/": "captcha"})
    result = run_crawl(site.base_url, tmp_path, *WINDOW)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: crawl did not finish (start_url_failed)"), last
    assert "is not a listing or book page" in last


@pytest.mark.parametrize(("kind", "rate"), [("book", 0.1), ("listing", 0.3)])
def test_a_one_time_redirect_storm_loses_nothing(tmp_path: Path, kind: str, rate: float) -> None:
    with running_sandbox(books=STORM_BOOKS, seed=12, fault_redirect_self=rate,
                         fault_redirect_offsite=rate / 2, fault_kinds=[kind, "home"]) as sb:
        result = run_crawl(sb.base_url, tmp_path, *WINDOW)
        truth = sb.truth()
        faults = sb.stats()["faults"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert sum(faults.values()) > 5
    assert differences(read_books(tmp_path), truth) == []
    assert read_lines(tmp_path / "failures.jsonl") == []


def test_invalid_utf8_once_is_fetched_again(site: RunningSandbox, tmp_path: Path) -> None:
    truth = site.truth_cache  # type: ignore[attr-defined]
    book = truth[7]["url"]
    site.configure(path_faults={"/" + book.split("/", 3)[3]: ["bad_utf8"]})
    result = run_crawl(site.base_url, tmp_path, *WINDOW)
    assert result.returncode == 0, result.stderr[-3000:]
    assert differences(read_books(tmp_path), truth) == []
    rejects = read_lines(tmp_path / "rejects.jsonl")
    assert [(r["url"], r["stage"], r["reasons"]) for r in rejects] == [
        (book, "malformed_page", ["description_invalid_text"])
    ]


def test_invalid_utf8_for_good_is_rejected_not_exported(site: RunningSandbox, tmp_path: Path):
    truth = site.truth_cache  # type: ignore[attr-defined]
    book = truth[7]["url"]
    site.configure(broken_paths={"/" + book.split("/", 3)[3]: "bad_utf8"})
    result = run_crawl(site.base_url, tmp_path, *WINDOW)
    assert result.returncode == 0, result.stderr[-3000:]
    exported = read_books(tmp_path)
    assert book not in {b["url"] for b in exported}
    assert not any("\ufffd" in (b.get("description") or "") for b in exported)
    rejects = read_lines(tmp_path / "rejects.jsonl")
    assert {r["stage"] for r in rejects if r["url"] == book} == {"malformed_page", "validation"}
    assert all(r["reasons"] == ["description_invalid_text"] for r in rejects)


def test_a_page_fetched_again_starts_with_its_retries_unspent(
    site: RunningSandbox, tmp_path: Path
) -> None:
    truth = site.truth_cache  # type: ignore[attr-defined]
    book = truth[3]["url"]
    # A 503 (retried once), a malformed copy (fetched again), a 503 again (retried again).
    site.configure(path_faults={"/" + book.split("/", 3)[3]: ["500", "no_price", "500"]})
    result = run_crawl(site.base_url, tmp_path, *WINDOW, "-s", "RETRY_TIMES=1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert differences(read_books(tmp_path), truth) == []
    assert read_lines(tmp_path / "failures.jsonl") == []


def test_a_limit_the_user_set_is_a_success(site: RunningSandbox, tmp_path: Path) -> None:
    result = run_crawl(site.base_url, tmp_path, *WINDOW, "-s", "CLOSESPIDER_ITEMCOUNT=5")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "error:" not in result.stderr
    assert 5 <= len(read_books(tmp_path)) < BOOKS
