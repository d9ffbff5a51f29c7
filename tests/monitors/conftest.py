"""Fixtures for the monitor tests: a sandbox of 200 books and a real webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from booksscraper.sandbox.testing import RunningSandbox, running_sandbox

BOOKS = 200


class Receiver:
    """An HTTP server on a free loopback port that keeps every POST (headers, JSON body)."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append({"headers": dict(self.headers), "raw": body.decode(),
                                 "json": json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, credentials: str = "") -> str:
        return f"http://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox(books=BOOKS, seed=5) as sb:
        sb.truth_cache = sb.truth()  # type: ignore[attr-defined]
        yield sb


@pytest.fixture
def site(sandbox: RunningSandbox) -> Iterator[RunningSandbox]:
    yield sandbox
    sandbox.configure(path_faults={}, broken_paths={}, latency_ms=0, fault_429=0.0,
                      fault_kinds=[], retry_after=1)


def book_path(url: str) -> str:
    """``/catalogue/...`` of a book URL (the key of ``broken_paths``)."""
    return "/" + url.split("/", 3)[3]
