"""The validation rules, one by one."""

from dataclasses import asdict
from decimal import Decimal

import pytest

from booksscraper.extraction.validation import item_problems
from booksscraper.items import BookItem

HOST = "books.toscrape.com"


def valid() -> dict:
    return asdict(
        BookItem(
            url="https://books.toscrape.com/catalogue/a-light-in-the-attic_1000/index.html",
            book_id=1000,
            upc="a897fe39b1053632",
            title="A Light in the Attic",
            price=Decimal("51.77"),
            currency="GBP",
            price_excl_tax=Decimal("51.77"),
            price_incl_tax=Decimal("51.77"),
            tax=Decimal("0.00"),
            availability=22,
            in_stock=True,
            rating=3,
            category="Poetry",
            description=None,
            image_url="https://books.toscrape.com/media/cache/fe/72/x.jpg",
            review_count=0,
            scraped_at="2026-11-24T23:00:00+00:00",
        )
    )


def test_a_valid_item_has_no_problems() -> None:
    assert item_problems(valid(), HOST) == []


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("price", None, "price_missing"),
        ("title", "", "title_missing"),
        ("price", 51.77, "price_bad_type"),
        ("rating", True, "rating_bad_type"),
        ("price", Decimal("0"), "price_not_positive"),
        ("tax", Decimal("-1"), "tax_negative"),
        ("rating", 6, "rating_out_of_range"),
        ("rating", 0, "rating_out_of_range"),
        ("availability", -1, "availability_negative"),
        ("upc", "A897FE39B1053632", "upc_malformed"),
        ("upc", "a897fe39b105363", "upc_malformed"),
        ("currency", "£", "currency_malformed"),
        ("url", "/catalogue/x_1/index.html", "url_not_absolute"),
        ("url", "https://evil.example/catalogue/x_1/index.html", "url_offsite"),
        ("image_url", "ftp://books.toscrape.com/x.jpg", "image_url_not_absolute"),
        ("book_id", 0, "book_id_out_of_range"),
    ],
)
def test_each_rule(field: str, value: object, code: str) -> None:
    item = valid()
    item[field] = value
    problems = item_problems(item, HOST)
    assert [p.split(":")[0] for p in problems] == [code]


def test_in_stock_must_agree_with_availability() -> None:
    item = valid()
    item["availability"] = 0
    assert item_problems(item, HOST) == ["in_stock_contradicts_availability"]


def test_every_missing_field_is_reported_at_once() -> None:
    problems = item_problems({"url": "https://books.toscrape.com/x"}, HOST)
    assert "price_missing" in problems and "upc_missing" in problems
    assert "description_missing" not in problems  # description is optional


def _pipeline():
    from scrapy.utils.test import get_crawler

    from booksscraper.pipelines.validation import Checked, ValidationPipeline

    crawler = get_crawler(settings_dict={"OUTPUT_ENABLED": False})
    crawler.stats.open_spider()
    return ValidationPipeline.from_crawler(crawler), Checked.for_crawler(crawler), crawler


def test_an_item_the_spider_found_valid_is_not_checked_again() -> None:
    from scrapy.exceptions import DropItem

    pipeline, checked, crawler = _pipeline()
    marked, unmarked = BookItem(**valid()), BookItem(**valid())
    marked.price = unmarked.price = Decimal("-1")  # invalid: only a check would see it
    checked.add(marked)
    assert pipeline.process_item(marked) is marked  # trusted: the spider checked it
    with pytest.raises(DropItem):
        pipeline.process_item(unmarked)  # not marked: checked, and rejected
    assert not checked.take(marked)  # the mark is used once
    assert crawler.stats.get_value("validation/checked") == 2


def test_a_mark_goes_with_its_item() -> None:
    _, checked, _ = _pipeline()
    item = BookItem(**valid())
    checked.add(item)
    del item
    assert checked._items == {}  # no id left to be taken by another object
