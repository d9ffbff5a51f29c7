"""Is this a cluster crawl? One answer for every module that asks.

A worker joins a cluster when it has a Redis: ``REDIS_URL`` (the setting, or the
environment: ``$BOOKS_REDIS_URL`` or the file ``$BOOKS_REDIS_URL_FILE``, so the password
stays off the command line) or scrapy-redis's ``REDIS_HOST``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.settings import BaseSettings

from booksscraper.config.readers import text
from booksscraper.records.credentials import secret


def redis_url(settings: BaseSettings) -> str:
    """The Redis URL from the setting or the environment; "" when none."""
    return secret(settings, "REDIS_URL")


def is_cluster(settings: BaseSettings) -> bool:
    return bool(redis_url(settings) or text(settings, "REDIS_HOST"))


def redis_address(url: str) -> str:
    """``host:port/db`` of a Redis URL, without its credentials (for log lines and stats)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    db = parts.path.lstrip("/") or "0"
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}/{db}"
