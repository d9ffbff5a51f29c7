"""Extraction, apart from crawling: page functions from HTML to data.

Each function takes the page's HTML (a parsel ``Selector``) and its URL and
returns plain data; no Scrapy request or response is needed, so they are
tested on saved pages (the real site's and the sandbox's).
"""

from booksscraper.extraction.book import parse_book_page
from booksscraper.extraction.listing import ListingPage, page_url, parse_listing_page

__all__ = ["ListingPage", "page_url", "parse_book_page", "parse_listing_page"]
