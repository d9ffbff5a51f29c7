"""Fixtures of the middleware tests: real tinyproxy proxies, a sandbox per test, crawl stats."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from booksscraper.sandbox.testing import RunningSandbox, running_sandbox
from tests.proxies import PROXY_PASSWORD, PROXY_USER, free_port  # noqa: F401 - imported from here


@pytest.fixture
def dead_proxy() -> str:
    """A loopback port nobody listens on."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., RunningSandbox]]:
    """A sandbox of our own per test (tests here set faults and bans at start-up)."""
    stack: list[Any] = []

    def start(books: int = 100, **options: Any) -> RunningSandbox:
        context = running_sandbox(books=books, seed=7, **options)
        server = context.__enter__()
        stack.append(context)
        return server

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


def crawl_stats(log: str) -> dict[str, Any]:
    """The stats dict Scrapy dumps at the end of the log ("Dumping Scrapy stats:")."""
    match = re.search(r"Dumping Scrapy stats:\n(\{.*?\})\n", log, re.S)
    assert match, "no stats dump in the crawl log:\n" + log[-3000:]
    text = re.sub(r"datetime\.datetime\([^)]*\)", "None", match.group(1))
    return ast.literal_eval(text)
