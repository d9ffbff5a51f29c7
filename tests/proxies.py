"""Real HTTP proxies for tests: Debian's tinyproxy in the foreground, one per Bind address.

Each proxy's outgoing connections leave from its own loopback address, so the
sandbox (which keys limits and bans on the peer IP) can tell them apart.
Started on free loopback ports, stopped by PID.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

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
        self.by_port[port] = proc
        wait_for_port(port, proc)
        if auth:
            return f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}"
        return f"http://127.0.0.1:{port}"

    def stop(self, port: int) -> None:
        """Stop the proxy listening on ``port`` (by its PID)."""
        _stop(self.by_port.pop(port))

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
