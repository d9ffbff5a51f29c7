"""A throw-away local redis-server (Debian's) on a free loopback port.

Used by ``make cluster`` and the tests: not daemonized (we own its PID), no
persistence (``--save ""``, no AOF), its own temporary directory, bound to
127.0.0.1 only.

    with running_redis() as redis_url:
        ...  # redis://127.0.0.1:PORT/0
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis


class RedisServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(
        self, proc: subprocess.Popen[bytes], port: int, workdir: Path, password: str | None = None
    ) -> None:
        self.proc = proc
        self.port = port
        self.workdir = workdir
        self.url = f"redis://{':' + password + '@' if password else ''}127.0.0.1:{port}/0"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_redis(
    start_timeout: float = 10.0, port: int | None = None, password: str | None = None
) -> RedisServer:
    """A new, empty redis-server; ``port``: that one (a restart), else a free one.

    ``password``: required of clients, given to redis-server in its config file (not argv).
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisServerError("redis-server not found (apt-get install redis-server)")
    workdir = Path(tempfile.mkdtemp(prefix="redis-"))
    # A port found free may be taken before redis binds it: try a few.
    for _ in range(1 if port else 5):
        port = port or free_port()
        args = [
            binary, "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "no",
            "--save", "", "--appendonly", "no", "--dir", str(workdir),
            "--logfile", str(workdir / "redis.log"),
        ]
        if password:
            conf = workdir / "redis.conf"
            conf.write_text(f"requirepass {password}\n", encoding="utf-8")
            args.insert(1, str(conf))  # the config file comes first, options after it
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = RedisServer(proc, port, workdir, password)
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1,
                             password=password)
        deadline = time.monotonic() + start_timeout
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                client.ping()
                client.close()
                return server
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        server.stop()
        port = None
    log = (workdir / "redis.log").read_text(errors="replace")[-2000:] if (
        workdir / "redis.log").exists() else ""
    shutil.rmtree(workdir, ignore_errors=True)
    raise RedisServerError(f"redis-server did not start: {log}")


@contextlib.contextmanager
def running_redis(password: str | None = None) -> Iterator[RedisServer]:
    server = start_redis(password=password)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
