"""Sandbox configuration: one dataclass, validated alike from CLI, JSON file and POST /__config."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any

from .catalogue import CHANGE_FIELDS, CHANGE_KEYS

FAULT_KEYS = (
    "fault_500", "fault_502", "fault_503", "fault_504", "fault_429", "fault_reset", "fault_hang",
    "fault_truncate", "fault_drip", "fault_no_price", "fault_bad_rating", "fault_empty",
    "fault_redirect_self", "fault_redirect_offsite", "fault_captcha", "fault_bad_utf8",
)
# Every fault a rate or a path can ask for (a FAULT_KEYS name without its "fault_").
FAULT_NAMES = tuple(key[len("fault_"):] for key in FAULT_KEYS)
PAGE_KINDS = ("home", "listing", "category", "book")
RENAMED_ELEMENTS = ("price",)  # book page elements a layout change can rename (edits.py)
STARTUP_ONLY = ("books", "seed", "categories", "host", "port")


class ConfigError(ValueError):
    """A bad option value; the message names the option and the value."""


@dataclass
class SandboxConfig:
    # catalogue and listening socket (startup only)
    books: int = 1000
    seed: int = 0
    categories: int = 50
    host: str = "127.0.0.1"
    port: int = 0
    # latency + jitter is a free wait; service_ms is held under one of `workers` slots
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    workers: int = 0  # 0 = unlimited
    service_ms: float = 0.0
    # faults: probability per catalogue page, their sum at most 1
    fault_500: float = 0.0
    fault_502: float = 0.0
    fault_503: float = 0.0
    fault_504: float = 0.0
    fault_429: float = 0.0
    fault_reset: float = 0.0
    fault_hang: float = 0.0
    fault_truncate: float = 0.0
    fault_drip: float = 0.0
    fault_no_price: float = 0.0
    fault_bad_rating: float = 0.0
    fault_empty: float = 0.0
    fault_redirect_self: float = 0.0  # a 302 to the page itself
    fault_redirect_offsite: float = 0.0  # a 302 to the same page under another host name
    fault_captcha: float = 0.0  # a 200 "verify you are human" page instead of the page
    fault_bad_utf8: float = 0.0  # the page with invalid UTF-8 bytes in its text
    # faults on chosen paths: the path's next requests get these faults, one each, in order
    path_faults: dict[str, list[str]] = field(default_factory=dict)
    # a fault on every request of the path (until the config changes)
    broken_paths: dict[str, str] = field(default_factory=dict)
    fault_kinds: list[str] = field(default_factory=list)  # empty = all page kinds
    # a site unlike what it says or what crawlers expect (see edits.py)
    short_listing_pages: list[str] = field(default_factory=list)  # one book short of the range
    book_link_query: str = ""  # e.g. "?ref=list" on every book link of the listing pages
    renamed_elements: list[str] = field(default_factory=list)  # e.g. ["price"] on book pages
    retry_after: int = 1
    retry_after_format: str = "seconds"  # or "date"
    drip_chunk: int = 256
    drip_interval_ms: float = 50.0
    # per client IP
    rate_limit: float = 0.0  # requests/s, 0 = off
    rate_burst: int = 10
    ban_after: int = 0  # ban an IP after this many requests over the limit, 0 = never
    banned_ips: list[str] = field(default_factory=list)
    ban_response: str = "403"  # or "200" (a "blocked" page answered with 200)
    # User-Agent policing
    block_default_ua: bool = False
    ua_max_rps: float = 0.0  # per User-Agent, 0 = off
    ua_action: str = "429"  # or "ban"
    # robots.txt (404 unless one of these is set)
    robots_txt: str = ""
    robots_disallow: list[str] = field(default_factory=list)
    crawl_delay: float = 0.0
    # conditional requests: ETag and Last-Modified on catalogue pages, 304 when they match
    validators: bool = True
    # the catalogue relative to the startup one: {"price": 37, "availability": 0, "rating": 0,
    # "description": 0, "add": 5, "remove": 5, "seed": 1} (counts of books; see catalogue.py)
    changes: dict[str, int] = field(default_factory=dict)

    def validate(self) -> SandboxConfig:
        _int_range("books", self.books, 1, 1_000_000)
        _int_range("seed", self.seed, 0, 2**63 - 1)
        _int_range("categories", self.categories, 1, 50)
        _int_range("port", self.port, 0, 65535)
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            raise ConfigError(f"--host must be an IP address, got {self.host!r}") from None
        for key in ("latency_ms", "jitter_ms", "service_ms", "rate_limit", "ua_max_rps",
                    "crawl_delay", "drip_interval_ms"):
            _non_negative(key, getattr(self, key))
        _int_range("workers", self.workers, 0, 100_000)
        _int_range("rate_burst", self.rate_burst, 1, 1_000_000)
        _int_range("ban_after", self.ban_after, 0, 10**9)
        _int_range("retry_after", self.retry_after, 0, 86400)
        _int_range("drip_chunk", self.drip_chunk, 1, 1 << 20)
        for key in FAULT_KEYS:
            value = getattr(self, key)
            if not _is_number(value) or not 0 <= value <= 1:
                raise ConfigError(f"{_flag(key)} must be between 0 and 1, got {value}")
        total = sum(getattr(self, k) for k in FAULT_KEYS)
        if total > 1 + 1e-9:
            raise ConfigError(f"the fault rates add up to {total:g}, more than 1")
        _choice("retry_after_format", self.retry_after_format, ("seconds", "date"))
        _choice("ban_response", self.ban_response, ("403", "200"))
        _choice("ua_action", self.ua_action, ("429", "ban"))
        for kind in self.fault_kinds:
            _choice("fault_kinds", kind, PAGE_KINDS)
        for path, faults in self.path_faults.items():
            _path_key("path_faults", path)
            if not isinstance(faults, list):
                raise ConfigError(f"--path-faults: {path}: expected a list of faults, "
                                  f"got {faults!r}")
            for name in faults:
                _choice("path_faults", name, FAULT_NAMES)
        for path in self.short_listing_pages:
            _path_key("short_listing_pages", path)
        if not isinstance(self.book_link_query, str) or (
                self.book_link_query and self.book_link_query[0] not in "?#"):
            raise ConfigError(f"--book-link-query must start with ? or #, "
                              f"got {self.book_link_query!r}")
        for name in self.renamed_elements:
            _choice("renamed_elements", name, RENAMED_ELEMENTS)
        for path, name in self.broken_paths.items():
            _path_key("broken_paths", path)
            _choice("broken_paths", name, FAULT_NAMES)
        for ip in self.banned_ips:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise ConfigError(f"--banned-ips: not an IP address: {ip!r}") from None
        for rule in self.robots_disallow:
            if not isinstance(rule, str) or not rule.startswith("/"):
                raise ConfigError(f"--robots-disallow: paths must start with /, got {rule!r}")
        if not isinstance(self.robots_txt, str):
            raise ConfigError("--robots-txt must be a string")
        if not isinstance(self.validators, bool):
            raise ConfigError(f"--validators must be true or false, got {self.validators!r}")
        _changes(self.changes, self.books)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def updated(self, changes: dict[str, Any], runtime: bool = True) -> SandboxConfig:
        """A validated copy with `changes` applied; raises ConfigError and leaves self unchanged."""
        if not isinstance(changes, dict):
            raise ConfigError("the config must be a JSON object")
        known = {f.name: f for f in fields(self)}
        values = self.to_dict()
        for key, value in changes.items():
            if key not in known:
                raise ConfigError(f"unknown config key: {key!r}")
            if runtime and key in STARTUP_ONLY:
                raise ConfigError(f"{key!r} can only be set at startup")
            values[key] = _coerce(key, known[key].type, value)
        return SandboxConfig(**values).validate()


def _changes(changes: Any, books: int) -> None:
    if not isinstance(changes, dict):
        raise ConfigError(f"--changes must be a JSON object, got {changes!r}")
    for key, value in changes.items():
        _choice("changes", key, CHANGE_KEYS)
        limit = 2**63 - 1 if key == "seed" else 1_000_000
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
            raise ConfigError(f"--changes: {key} must be an integer between 0 and {limit}, "
                              f"got {value!r}")
    touched = sum(changes.get(k, 0) for k in (*CHANGE_FIELDS, "remove"))
    if touched > books:
        raise ConfigError(f"--changes: {touched} books changed or removed, but the catalogue "
                          f"has {books}")
    if books + changes.get("add", 0) > 1_000_000:
        raise ConfigError("--changes: add takes the catalogue past 1000000 books")


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int_range(key: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{_flag(key)} must be an integer between {low} and {high}, "
                          f"got {value!r}")


def _non_negative(key: str, value: Any) -> None:
    if not _is_number(value) or value < 0:
        raise ConfigError(f"{_flag(key)} must be a number >= 0, got {value!r}")


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{_flag(key)} must be one of {', '.join(allowed)}, got {value!r}")


def _path_key(key: str, path: Any) -> None:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigError(f"{_flag(key)}: paths must start with /, got {path!r}")


def _coerce(key: str, type_name: Any, value: Any) -> Any:
    """JSON types to field types: an int is fine for a float, "403" and 403 alike for strings."""
    type_name = str(type_name)
    if type_name == "float" and _is_number(value):
        return float(value)
    if type_name == "str" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if type_name == "bool" and not isinstance(value, bool):
        raise ConfigError(f"{_flag(key)} must be true or false, got {value!r}")
    if type_name.startswith("dict"):
        if isinstance(value, str):  # from the command line
            try:
                value = json.loads(value)
            except ValueError:
                raise ConfigError(f"{_flag(key)} must be a JSON object, got {value!r}") from None
        if not isinstance(value, dict):
            raise ConfigError(f"{_flag(key)} must be a JSON object, got {value!r}")
        return value
    if type_name.startswith("list"):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{_flag(key)} must be a list of strings, got {value!r}")
    return value
