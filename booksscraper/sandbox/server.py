"""The HTTP/1.1 server: a hand-written asyncio.Protocol (keep-alive, pipelining, HEAD, POST bodies).

Low-level control of the socket is what the faults need: reset (RST via SO_LINGER 0), hang,
truncated bodies and slow drip.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from .replies import REASONS, Reply

if TYPE_CHECKING:
    from .app import Sandbox

# What a handler returns when it cannot answer at once: started later, in request order.
Pending = Callable[[], Awaitable[None]]
MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


class BadRequest(Exception):
    pass


class Request:
    __slots__ = ("body", "headers", "keep_alive", "method", "path", "version")

    def __init__(self, method: str, path: str, version: str, headers: dict[str, str],
                 body: bytes) -> None:
        self.method = method
        self.path = path
        self.version = version
        self.headers = headers
        self.body = body
        conn = headers.get("connection", "").lower()
        self.keep_alive = ("keep-alive" in conn) if version == "HTTP/1.0" else ("close" not in conn)


def parse_request(buf: bytearray) -> Request | None:
    """Take one complete request off the front of buf, or return None if it is incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > MAX_HEAD:
            raise BadRequest("request head too large")
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    while lines and not lines[0]:  # tolerate stray CRLFs between pipelined requests
        lines.pop(0)
    try:
        method, target, version = lines[0].split(" ")
    except (ValueError, IndexError):
        raise BadRequest("malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise BadRequest("unsupported HTTP version")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest("malformed header line")
        headers[name.strip().lower()] = value.strip()
    length = 0
    if "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise BadRequest("bad Content-Length") from None
        if not 0 <= length <= MAX_BODY:
            raise BadRequest("bad Content-Length")
    elif "transfer-encoding" in headers:
        raise BadRequest("chunked request bodies are not supported")
    if len(buf) < end + 4 + length:
        return None
    body = bytes(buf[end + 4:end + 4 + length])
    del buf[:end + 4 + length]
    # Absolute-form targets arrive through HTTP proxies: keep only the path.
    if target.startswith(("http://", "https://")):
        slash = target.find("/", target.find("//") + 2)
        target = target[slash:] if slash >= 0 else "/"
    path = target.split("?", 1)[0].split("#", 1)[0] or "/"
    return Request(method.upper(), path, version, headers, body)


class Connection(asyncio.Protocol):
    """One client connection; requests are answered strictly in order."""

    def __init__(self, app: Sandbox) -> None:
        self.app = app
        self.buf = bytearray()
        self.queue: deque[Request] = deque()
        self.task: asyncio.Task | None = None
        self.transport: asyncio.Transport | None = None
        self.ip = "?"
        self.done = False  # closing, reset or hung: read nothing more
        self.http10 = False  # the request being answered is HTTP/1.0
        self.hung_finish: Any = None
        self._drain: asyncio.Future | None = None
        self._paused = False

    # -- asyncio callbacks ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.ip = peer[0] if peer else "?"
        self.app.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.done = True
        self.app.connections.discard(self)
        if self.hung_finish is not None:
            self.hung_finish()
            self.hung_finish = None
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        # A running task is not cancelled: it sees `done`, stops writing and still counts its
        # request in the stats (a cancelled, never-started task would lose that).

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self.done:
            return
        self.buf += data
        while not self.done:
            try:
                req = parse_request(self.buf)
            except BadRequest as exc:
                self.send(Reply(400, f"{exc}\n".encode(), "text/plain"), keep_alive=False)
                return
            if req is None:
                return
            if self.task is not None or self.queue:
                self.queue.append(req)
                continue
            self.http10 = req.version == "HTTP/1.0"
            pending = self.app.handle(req, self)
            if pending is not None:
                self.task = asyncio.get_running_loop().create_task(self._run(pending))

    async def _run(self, pending: Pending) -> None:
        try:
            await pending()
            while self.queue and not self.done:
                req = self.queue.popleft()
                self.http10 = req.version == "HTTP/1.0"
                nxt = self.app.handle(req, self)
                if nxt is not None:
                    await nxt()
        except asyncio.CancelledError:
            pass
        finally:
            self.task = None

    # -- writing -------------------------------------------------------------------------------
    async def drain(self) -> None:
        if self._paused and not self.done:
            self._drain = asyncio.get_running_loop().create_future()
            await self._drain

    def head(self, reply: Reply, length: int | None, keep_alive: bool) -> bytes:
        lines = [f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Unknown')}",
                 f"Date: {http_date()}", "Server: booksscraper-sandbox",
                 f"Content-Type: {reply.content_type}"]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines.extend(f"{k}: {v}" for k, v in reply.headers)
        if not keep_alive:
            lines.append("Connection: close")
        elif self.http10:
            lines.append("Connection: keep-alive")  # HTTP/1.0 clients (ab -k) need it said
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send(self, reply: Reply, keep_alive: bool = True, head_only: bool = False) -> int:
        """Write the reply; returns the bytes written (0 if the connection is gone)."""
        if self.done or self.transport is None:
            return 0
        body = b"" if head_only else reply.body
        data = self.head(reply, len(reply.body), keep_alive) + body
        self.transport.write(data)
        if not keep_alive:
            self.close()
        return len(data)

    def close(self) -> None:
        self.done = True
        if self.transport is not None:
            self.transport.close()

    def reset(self) -> None:
        """Abort with RST: SO_LINGER 0 makes the client see ECONNRESET, not a clean close."""
        self.done = True
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()
