"""Request handling: catalogue pages through policies and faults, and the /__* control endpoints."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from functools import partial

from . import conditional, hostile
from .catalogue import Catalogue
from .config import PAGE_KINDS, ConfigError, SandboxConfig
from .edits import edited
from .policies import Policies
from .replies import CAPTCHA_PAGE, Reply, error_page, redirect, too_many, with_bad_utf8
from .routes import Render, book_id_of, resolve
from .server import Connection, Pending, Request
from .stats import Stats

_NOT_FOUND = error_page(404)
_TYPES = {"image": "image/jpeg", "robots": "text/plain"}


def _json(data: object, status: int = 200) -> Reply:
    body = (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode()
    return Reply(status, body, "application/json")


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.catalogue = Catalogue(config.books, config.seed, config.categories)
        self.stats = Stats()
        self.policies = Policies(config)
        self.connections: set[Connection] = set()
        self.base_url = ""
        # Last-Modified of each catalogue edition; edition 0 (never changed) a day before now.
        self.edition_times = [int(time.time()) - 86400]
        self.apply(config)

    def apply(self, config: SandboxConfig) -> None:
        self.config = config
        self.catalogue.set_changes(config.changes)
        while len(self.edition_times) <= self.catalogue.edition:
            # Strictly later than the edition before: If-Modified-Since has 1-second resolution.
            self.edition_times.append(max(int(time.time()), self.edition_times[-1] + 1))
        self.policies.configure(config)
        # Capacity model: K workers each hold a slot for service_ms; beyond K requests queue.
        self.semaphore = asyncio.Semaphore(config.workers) if config.workers else None
        self.slow = bool(config.latency_ms or config.jitter_ms or config.service_ms)
        robots = config.robots_txt
        if not robots and (config.robots_disallow or config.crawl_delay):
            robots = "User-agent: *\n" + "".join(f"Disallow: {p}\n" for p in config.robots_disallow)
            if config.crawl_delay:
                robots += f"Crawl-delay: {config.crawl_delay:g}\n"
        self.robots = robots.encode() if robots else None

    async def start(self) -> asyncio.AbstractServer:
        loop = asyncio.get_running_loop()
        cfg = self.config
        server = await loop.create_server(lambda: Connection(self), cfg.host, cfg.port,
                                          backlog=1024)
        port = server.sockets[0].getsockname()[1]
        host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
        self.base_url = f"http://{host}:{port}/"
        self.catalogue.base_url = self.base_url
        return server

    # -- catalogue pages -----------------------------------------------------------------------
    def handle(self, req: Request, conn: Connection) -> Pending | None:
        """Answer now and return None, or return a coroutine that will answer."""
        if req.path.startswith("/__"):
            return self.control(req, conn)
        ua = req.headers.get("user-agent", "")
        if req.path == "/robots.txt":
            kind, render = "robots", self._robots
        else:
            kind, render = resolve(self.catalogue, req.path)
        stats = self.stats
        stats.begin(conn.ip, ua, kind)
        t0 = time.monotonic()
        if req.method not in ("GET", "HEAD"):
            return self._send(conn, req, error_page(405), t0)
        if self.policies.active:
            refusal = self.policies.check(conn.ip, ua, t0)
            if refusal is not None:
                return self._send(conn, req, refusal, t0)
        fault = self.policies.pick_fault(kind, req.path)
        if self.slow or fault == "drip":
            return partial(self._answer_later, conn, req, kind, render, fault, t0)
        self._answer(conn, req, kind, render, fault, t0)
        return None

    def _robots(self, _variant: str | None = None) -> bytes | None:
        return self.robots

    def _send(self, conn: Connection, req: Request, reply: Reply, t0: float) -> None:
        self.stats.bytes_sent += conn.send(reply, req.keep_alive, req.method == "HEAD")
        self.stats.end(reply.status, time.monotonic() - t0)

    def _conditional(self, req: Request, kind: str, reply: Reply) -> Reply:
        """The page with its validators, or a 304 when the request's validators match."""
        cat = self.catalogue
        edition = cat.edition if kind != "book" else cat.touched.get(book_id_of(req.path) or 0, 0)
        modified = self.edition_times[edition]
        tag = conditional.etag(reply.body)
        headers = (("ETag", tag), ("Last-Modified", conditional.http_time(modified)))
        if conditional.not_modified(req.headers, tag, modified):
            return Reply(304, b"", reply.content_type, headers)
        return reply._replace(headers=headers)

    async def _answer_later(self, conn: Connection, req: Request, kind: str, render: Render,
                            fault: str | None, t0: float) -> None:
        try:
            await self._wait_and_answer(conn, req, kind, render, fault, t0)
        except asyncio.CancelledError:
            # The client went away mid-wait or mid-drip (its task is cancelled): still count it.
            self.stats.end(0, time.monotonic() - t0)
            raise

    async def _wait_and_answer(self, conn: Connection, req: Request, kind: str, render: Render,
                               fault: str | None, t0: float) -> None:
        delay = self.policies.delay()
        if delay:
            await asyncio.sleep(delay)
        service = self.config.service_ms / 1000.0
        if service:
            if self.semaphore is not None:
                async with self.semaphore:
                    await asyncio.sleep(service)
            else:
                await asyncio.sleep(service)
        if conn.done:
            self.stats.end(0, time.monotonic() - t0)  # the client went away while waiting
            return
        if fault == "drip":
            body = render(None)
            if body is not None:
                self.stats.faults["drip"] += 1
                reply = Reply(200, body, _TYPES.get(kind, "text/html"))
                self.stats.bytes_sent += len(conn.head(reply, len(body), req.keep_alive)) + (
                    0 if req.method == "HEAD" else len(body))
                await self._drip(conn, req, reply)
                self.stats.end(200, time.monotonic() - t0)
                return
            fault = None
        self._answer(conn, req, kind, render, fault, t0)

    def _answer(self, conn: Connection, req: Request, kind: str, render: Render,
                fault: str | None, t0: float) -> None:
        body = render(fault if fault in ("no_price", "bad_rating") else None)
        if body is None:
            return self._send(conn, req, _NOT_FOUND, t0)  # no fault on a page that does not exist
        body = edited(self.config, kind, req.path, body)
        reply = Reply(200, body, _TYPES.get(kind, "text/html"))
        if fault is None:
            if self.config.validators and kind in PAGE_KINDS:
                reply = self._conditional(req, kind, reply)
            return self._send(conn, req, reply, t0)
        self.stats.faults[fault] += 1
        cfg = self.config
        if fault in ("500", "502", "503", "504"):
            reply = error_page(int(fault))
        elif fault == "429":
            reply = too_many(cfg.retry_after, cfg.retry_after_format)
        elif fault == "empty":
            reply = Reply(200, b"")
        elif fault == "redirect_self":
            reply = redirect(self.base_url + req.path[1:])
        elif fault == "redirect_offsite":
            reply = redirect(f"http://localhost:{self.base_url.rsplit(':', 1)[1].rstrip('/')}"
                             f"{req.path}")
        elif fault == "captcha":
            reply = Reply(200, CAPTCHA_PAGE)
        elif fault == "bad_utf8":
            reply = reply._replace(body=with_bad_utf8(body))
        elif fault == "reset":
            conn.reset()
            return self.stats.end(0, time.monotonic() - t0)
        elif fault == "hang":
            # Never answer and keep the socket open; the request ends when the client gives up.
            conn.done = True
            conn.hung_finish = lambda: self.stats.end(0, time.monotonic() - t0)
            return None
        elif fault == "truncate" and req.method != "HEAD" and conn.transport is not None:
            # Promise the whole body, send half of it, close.
            data = conn.head(reply, len(body), True) + body[: len(body) // 2]
            conn.transport.write(data)
            self.stats.bytes_sent += len(data)
            conn.close()
            return self.stats.end(200, time.monotonic() - t0)
        return self._send(conn, req, reply, t0)

    async def _drip(self, conn: Connection, req: Request, reply: Reply) -> None:
        cfg = self.config
        assert conn.transport is not None
        conn.transport.write(conn.head(reply, len(reply.body), req.keep_alive))
        if req.method != "HEAD":
            for i in range(0, len(reply.body), cfg.drip_chunk):
                if conn.done:
                    return
                conn.transport.write(reply.body[i:i + cfg.drip_chunk])
                await asyncio.sleep(cfg.drip_interval_ms / 1000.0)
        if not req.keep_alive:
            conn.close()

    # -- control endpoints (never faulted, never counted) -------------------------------------
    def control(self, req: Request, conn: Connection) -> Pending | None:
        path, method = req.path, req.method
        if path == "/__catalogue.jsonl" and method in ("GET", "HEAD"):
            return partial(self._stream_truth, conn, req)
        if path == "/__changes.jsonl" and method in ("GET", "HEAD"):
            reply = self._changes()
        elif path == "/__stats" and method == "GET":
            reply = _json(self.stats.snapshot())
        elif path == "/__config" and method == "GET":
            reply = _json(self.config.to_dict())
        elif path == "/__config" and method == "POST":
            reply = self._configure(req.body)
        elif path == "/__reset" and method == "POST":
            self.stats.reset()
            self.policies.reset()
            reply = _json({"ok": True})
        elif (m := hostile.HUGE_CHUNKED.fullmatch(path[len(hostile.PREFIX):])) and method == "GET":
            return partial(self._stream_chunked, conn, req, int(m.group(1)))
        elif path.startswith(hostile.PREFIX) and method in ("GET", "HEAD"):
            reply = hostile.reply(self.catalogue, path, self.base_url)
        elif path == "/__health" and method == "GET":
            reply = _json({"ok": True, "books": self.catalogue.count, "seed": self.catalogue.seed})
        elif path in ("/__stats", "/__config", "/__reset", "/__health", "/__catalogue.jsonl",
                      "/__changes.jsonl"):
            reply = error_page(405)
        else:
            reply = _NOT_FOUND
        conn.send(reply, req.keep_alive, method == "HEAD")
        return None

    def _changes(self) -> Reply:
        """Ground truth of the last catalogue change: one line per book, as the crawl reports."""
        lines = "".join(
            json.dumps({"upc": r["upc"], "url": self.base_url + r["path"], "change": r["change"],
                        "fields": r["fields"]}, ensure_ascii=False) + "\n"
            for r in self.catalogue.last_changes)
        return Reply(200, lines.encode(), "application/x-ndjson")

    def _configure(self, body: bytes) -> Reply:
        try:
            changes = json.loads(body.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return Reply(400, f"bad JSON: {exc}\n".encode(), "text/plain")
        try:
            config = self.config.updated(changes)
        except ConfigError as exc:
            return Reply(400, f"{exc}\n".encode(), "text/plain")
        self.apply(config)
        return _json(config.to_dict())

    async def _stream_chunked(self, conn: Connection, req: Request, size: int) -> None:
        """A 200 of ``size`` bytes in 64 KiB chunks, no Content-Length (a hostile page)."""
        assert conn.transport is not None
        head = Reply(200, b"", "text/html", (("Transfer-Encoding", "chunked"),))
        conn.transport.write(conn.head(head, None, False))
        chunk = b"x" * 65536
        for _ in range(0, size, len(chunk)):
            if conn.done:
                return
            conn.transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            await conn.drain()
        if not conn.done:
            conn.transport.write(b"0\r\n\r\n")
            conn.close()

    async def _stream_truth(self, conn: Connection, req: Request) -> None:
        """Ground truth, one JSON object per line, id ascending; streamed, so 1M books is fine."""
        assert conn.transport is not None
        chunked = req.version == "HTTP/1.1"
        keep_alive = req.keep_alive and chunked
        headers = (("Transfer-Encoding", "chunked"),) if chunked else ()
        head = Reply(200, b"", "application/x-ndjson", headers)
        conn.transport.write(conn.head(head, None, keep_alive))
        if req.method == "HEAD":
            return
        cat, top = self.catalogue, self.catalogue.top
        for start in range(1, top + 1, 500):
            lines = "".join(json.dumps(cat.truth(i), ensure_ascii=False) + "\n"
                            for i in range(start, min(top, start + 499) + 1) if cat.is_live(i))
            data = lines.encode()
            if conn.done:
                return
            conn.transport.write(b"%x\r\n%b\r\n" % (len(data), data) if chunked else data)
            await conn.drain()
            await asyncio.sleep(0)  # let other connections progress
        if conn.done:
            return
        if chunked:
            conn.transport.write(b"0\r\n\r\n")
        if not keep_alive:
            conn.close()


async def serve(config: SandboxConfig, ready: Callable[[str], None]) -> None:
    """Run until SIGTERM or SIGINT; ready(base_url) is called once the socket listens."""
    app = Sandbox(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)  # before announcing the URL: no window to die in
    server = await app.start()
    ready(app.base_url)
    await stop.wait()
    server.close()
    for conn in list(app.connections):
        if conn.transport is not None:
            conn.transport.abort()
    await asyncio.wait_for(server.wait_closed(), 5)
