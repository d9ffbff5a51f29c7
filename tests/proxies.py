"""Real HTTP proxies for tests: Debian's tinyproxy in the foreground, one per Bind address.

Each proxy's outgoing connections leave from its own loopback address, so the
sandbox (which keys limits and bans on the peer IP) can tell them apart.
Started on free loopback ports, stopped by PID.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.helpers import free_port

PROXY_USER = "crawler"
PROXY_PASSWORD = "s3cret-Pa55"
__all__ = ["PROXY_PASSWORD", "PROXY_USER", "TinyProxies", "free_port", "wait_for_port"]


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
        self.by_port: dict[int, subprocess.Popen[bytes]] = {}

    def start(
        self, bind: str, *, auth: bool = False, port: int | None = None,
        upstream: str | None = None,
    ) -> str:
        """A proxy's URL; ``upstream``: ``host:port`` of a proxy it forwards to (a dead one
        makes it answer 502 to everything)."""
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
        if upstream:
            lines.append(f"Upstream http {upstream}")
        conf.write_text("\n".join(lines) + "\n")
        proc = subprocess.Popen(
            ["tinyproxy", "-d", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        self.by_port[port] = proc
        wait_for_port(port, proc)
        if auth:
            return f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}"
        return f"http://127.0.0.1:{port}"

    def stop(self, port: int) -> None:
        """Stop the proxy listening on ``port`` (by its PID)."""
        _stop(self.by_port.pop(port))

    @contextlib.contextmanager
    def restarted_during(
        self, site: Any, port: int, bind: str, *, after_requests: int
    ) -> Iterator[dict[str, int]]:
        """While the block runs: once ``site`` has had ``after_requests`` requests, stop the
        proxy on ``port``, start it again 1 s later; yields ``{"count": its requests at the
        site when it came back}``."""
        after_restart: dict[str, int] = {}

        def outage() -> None:
            deadline = time.monotonic() + 60
            while site.stats()["requests_total"] < after_requests and time.monotonic() < deadline:
                time.sleep(0.05)
            self.stop(port)
            time.sleep(1)
            self.start(bind, port=port)
            after_restart["count"] = site.stats()["by_ip"].get(bind, {}).get("count", 0)

        thread = threading.Thread(target=outage)
        thread.start()
        try:
            yield after_restart
        finally:
            thread.join()

    def stop_all(self) -> None:
        for proc in self.procs:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
