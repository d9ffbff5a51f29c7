"""The monitors' rules on stats dicts, the exit status they give, and the alerts' delivery."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from scrapy.settings import Settings

from booksscraper.commands.crawl import EXIT_MONITORS, EXIT_NOT_FINISHED, outcome
from booksscraper.config.errors import BadConfig
from booksscraper.extensions.crawlmonitors import CrawlMonitors
from booksscraper.extraction.validation import problem_field
from booksscraper.monitoring.alerts import Alerts, split_credentials
from booksscraper.monitoring.monitors import FAILED, RESULTS, Thresholds, close_checks
from tests.helpers import free_port
from tests.monitors.conftest import Receiver

CLEAN = {"finish_reason": "finished", "ledger/announced": 1000, "ledger/exported": 1000,
         "item_scraped_count": 1000, "validation/checked": 1000, "elapsed_time_seconds": 40.0}


def verdicts(stats: dict[str, Any], **limits: Any) -> dict[str, bool | None]:
    return {c.name: c.passed for c in close_checks(stats, Thresholds(**limits))}


def test_a_clean_crawl_passes_and_no_budget_is_skipped() -> None:
    result = verdicts(CLEAN)
    assert result.pop("duration") is None
    assert set(result.values()) == {True}


def test_the_items_rule() -> None:
    assert verdicts({**CLEAN, "ledger/exported": 989})["items"] is False
    assert verdicts({**CLEAN, "ledger/exported": 990})["items"] is True
    assert verdicts({**CLEAN, "ledger/exported": 989}, items_min_ratio=0.9)["items"] is True
    # A limit the user set is the target; Ctrl-C or a cancel is not judged.
    assert verdicts({**CLEAN, "ledger/exported": 50, "finish_reason": "closespider_itemcount"},
                    item_limit=50)["items"] is True
    assert verdicts({**CLEAN, "ledger/exported": 50, "finish_reason": "shutdown"})["items"] \
        is None
    assert verdicts({**CLEAN, "ledger/announced": None})["items"] is None
    # A book announced and never listed or settled fails it whatever the ratio.
    unaccounted = {**CLEAN, "ledger/exported": 999, "ledger/unaccounted": 1,
                   "ledger/short_listings": [{"url": "u", "expected": 20, "found": 19}]}
    assert verdicts(unaccounted)["items"] is False
    assert verdicts(unaccounted, items_min_ratio=0.5)["items"] is False
    assert verdicts({**CLEAN, "ledger/exported": 333}, cluster_worker=True)["items"] is None


def test_field_coverage_counts_rejected_items_too() -> None:
    stats = {**CLEAN, "validation/field_invalid/price": 2}
    assert verdicts(stats)["field:price"] is False  # 99.8% < 99.9%
    assert verdicts(stats, field_coverage=0.99)["field:price"] is True
    stats = {**CLEAN, "validation/field_invalid/description": 40}
    assert verdicts(stats, field_coverage_by_field={"description": 0.95})["field:description"]


def test_rejects_failures_errors_finish_reason_and_duration() -> None:
    assert verdicts({**CLEAN, "ledger/failed": 11})["rejects_failures"] is False
    assert verdicts({**CLEAN, "ledger/failed": 5, "ledger/rejected": 5})[
        "rejects_failures"] is True
    # Downloads a Ctrl-C aborted are the stop's failures, not the site's.
    assert verdicts({**CLEAN, "ledger/failed": 50, "finish_reason": "shutdown"})[
        "rejects_failures"] is None
    # One ERROR line per failure is the failure's own; one more is not.
    assert verdicts({**CLEAN, "ledger/failed": 3, "log_count/ERROR": 3})["errors"] is True
    assert verdicts({**CLEAN, "ledger/failed": 3, "log_count/ERROR": 4})["errors"] is False
    assert verdicts({**CLEAN, "finish_reason": "closespider_timeout"})["finish_reason"] is False
    assert verdicts({**CLEAN, "finish_reason": "cancelled"})["finish_reason"] is True
    assert verdicts(CLEAN, max_seconds=30)["duration"] is False


def test_thresholds_from_settings_are_checked() -> None:
    limits = Thresholds.from_settings(Settings({"MONITOR_FIELD_COVERAGE": "0.5",
                                                "CLOSESPIDER_ITEMCOUNT": 7}))
    assert limits.field_coverage == 0.5 and limits.item_limit == 7
    assert limits.field_coverage_by_field == {"description": 0.95}
    with pytest.raises(BadConfig, match="MONITOR_ITEMS_MIN_RATIO"):
        Thresholds.from_settings(Settings({"MONITOR_ITEMS_MIN_RATIO": "2"}))
    with pytest.raises(BadConfig, match="unknown field 'prize'"):
        Thresholds.from_settings(Settings({"MONITOR_FIELD_COVERAGE_BY_FIELD": {"prize": 0.5}}))


def test_problem_field_is_the_longest_field_name() -> None:
    assert problem_field("price_excl_tax_missing") == "price_excl_tax"
    assert problem_field("price_not_positive: 0") == "price"
    assert problem_field("validator_error: KeyError") is None


def test_a_start_page_announces_the_books_from_it_on() -> None:
    from booksscraper.extraction.listing import ListingPage

    first = ListingPage(book_urls=["u"] * 20, page=1, page_count=50, result_count=1000)
    assert first.books_from_here == 1000
    assert ListingPage(book_urls=["u"] * 20, page=3, page_count=50,
                       result_count=1000).books_from_here == 960
    assert ListingPage(book_urls=["u"] * 7, page=50, page_count=50,
                       result_count=987).books_from_here == 7
    assert ListingPage(book_urls=["u"] * 3, result_count=3).books_from_here == 3


def test_exit_status_three_comes_after_not_finished() -> None:
    failed = {**CLEAN, FAILED: ["items"],
              RESULTS: [{"name": "items", "passed": False, "message": "9 of 10 books"}]}
    assert outcome(failed, None) == ("monitors failed: items: 9 of 10 books", EXIT_MONITORS)
    assert outcome({**failed, "finish_reason": "memory_cap"}, None)[1] == EXIT_NOT_FINISHED
    assert outcome(CLEAN, None) is None
    no_book = {**CLEAN, "item_scraped_count": 0, "ledger/exported": 0}
    assert outcome(no_book, None)[1] == EXIT_NOT_FINISHED
    # A cluster worker whose peers took every request: the merge counts the cluster's books.
    assert outcome(no_book, None, cluster=True) is None


def test_webhook_credentials_become_basic_auth() -> None:
    bare, auth = split_credentials("https://bot:p%40ss@hooks.example:8443/x?y=1")
    assert bare == "https://hooks.example:8443/x?y=1"
    assert auth == "Basic Ym90OnAlNDBzcw=="  # sent as written in the URL
    assert split_credentials("http://h/x") == ("http://h/x", None)


def test_a_failing_webhook_is_logged_once(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens there
    alerts = Alerts(Settings({"OUTPUT_DIR": str(tmp_path), "ALERT_WEBHOOK_TIMEOUT": 2,
                              "ALERT_WEBHOOK_URL": f"http://u:s3cret@127.0.0.1:{port}/"}))
    with caplog.at_level(logging.WARNING):
        assert alerts.post({"a": 1}) is False
        assert alerts.post({"a": 2}) is False
    assert len(caplog.records) == 1
    assert "Alert webhook http://127.0.0.1:" in caplog.text and "s3cret" not in caplog.text


def test_the_webhook_receives_the_alert(tmp_path) -> None:
    receiver = Receiver()
    try:
        alerts = Alerts(Settings({"OUTPUT_DIR": str(tmp_path),
                                  "ALERT_WEBHOOK_URL": receiver.url()}))
        assert alerts.post({"kind": "close"}) is True
    finally:
        receiver.close()
    assert [r["json"] for r in receiver.received] == [{"kind": "close"}]
    assert "Authorization" not in receiver.received[0]["headers"]


def test_monitors_can_be_switched_off() -> None:
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.test import get_crawler

    with pytest.raises(NotConfigured):
        CrawlMonitors(get_crawler(settings_dict={"MONITORS_ENABLED": False}))
