"""One instance of a component per crawl, shared by every part that needs it.

The rejects file, the failures file and the retries waiting out a backoff are
each written or held by one object per crawler, whichever pipeline, middleware
or extension asks for it first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from scrapy.crawler import Crawler

T = TypeVar("T")


def shared(crawler: Crawler, factory: Callable[[Crawler], T], attribute: str) -> T:
    """``crawler.<attribute>``, made by ``factory(crawler)`` the first time it is asked for."""
    instance = getattr(crawler, attribute, None)
    if instance is None:
        instance = factory(crawler)
        setattr(crawler, attribute, instance)
    return instance
