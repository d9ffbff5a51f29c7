"""Extraction, apart from crawling: page functions from HTML to data.

Each function takes the page's HTML (a parsel ``Selector``) and its URL and
returns plain data; no Scrapy request or response is needed, so they are
tested on saved pages (the real site's and the sandbox's).

- ``book``: a book page; ``listing``: a listing page; ``validation``: what makes an item
  valid.
"""
