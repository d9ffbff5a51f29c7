"""One instance of a component per crawl, shared by every part that needs it.

The rejects file, the failures file and the retries waiting out a backoff are
each written or held by one object per crawler, whichever pipeline, middleware
or extension asks for it first. They live in a registry keyed by the crawler
(weakly: they go with it), not in attributes hung on Scrapy's ``Crawler``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from scrapy.crawler import Crawler

T = TypeVar("T")

_registry: WeakKeyDictionary[Crawler, dict[Hashable, Any]] = WeakKeyDictionary()


def shared(crawler: Crawler, factory: Callable[[Crawler], T], key: Hashable = None) -> T:
    """The crawl's one ``factory(crawler)`` (under ``key``, default ``factory``), made once."""
    instances = _registry.setdefault(crawler, {})
    key = factory if key is None else key
    if key not in instances:
        instances[key] = factory(crawler)
    return instances[key]
