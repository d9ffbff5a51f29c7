"""Fixtures of the middleware tests: real tinyproxy proxies, a sandbox per test, crawl stats."""

from __future__ import annotations

import ast
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from booksscraper.sandbox.testing import RunningSandbox, running_sandbox

PROXY_USER = "crawler"
PROXY_PASSWORD = "s3cret-Pa55"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tinyproxy on port {port} did not start") from None
            time.sleep(0.05)


class TinyProxies:
    """Starts Debian's tinyproxy in the foreground (-d), one per Bind address; stops them by PID."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, bind: str, *, auth: bool = False, port: int | None = None) -> str:
        port = port or free_port()
        conf = self.folder / f"tinyproxy-{port}.conf"
        lines = [
            f"Port {port}",
            "Listen 127.0.0.1",
            f"Bind {bind}",
            "Allow 127.0.0.0/8",
            f'PidFile "{self.folder / f"tinyproxy-{port}.pid"}"',
            "ConnectPort 80",
            "DisableViaHeader Yes",
            "Timeout 30",
            "MaxClients 50",
            "LogLevel Error",
        ]
        if auth:
            lines.append(f"BasicAuth {PROXY_USER} {PROXY_PASSWORD}")
        conf.write_text("\n".join(lines) + "\n")
        proc = subprocess.Popen(
            ["tinyproxy", "-d", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        wait_for_port(port, proc)
        if auth:
            return f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}"
        return f"http://127.0.0.1:{port}"

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture
def tinyproxies(tmp_path: Path) -> Iterator[TinyProxies]:
    if shutil.which("tinyproxy") is None:
        pytest.fail("tinyproxy is not installed (apt-get install -y tinyproxy)")
    proxies = TinyProxies(tmp_path)
    try:
        yield proxies
    finally:
        proxies.stop_all()


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
