"""Small HTTP clients over real sockets, able to leave from a chosen loopback address."""

from __future__ import annotations

import http.client
import socket
from typing import NamedTuple
from urllib.parse import urlsplit


class Answer(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


def address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def get(base_url: str, path: str, source: str | None = None, headers: dict[str, str] | None = None,
        method: str = "GET", body: bytes | None = None, timeout: float = 10) -> Answer:
    host, port = address(base_url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, "/" + path.lstrip("/"), body=body, headers=headers or {})
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def raw(base_url: str, data: bytes, timeout: float = 5, source: str | None = None) -> bytes:
    """Send raw bytes, read until the server closes (or the timeout passes)."""
    sock = socket.create_connection(address(base_url), timeout=timeout,
                                    source_address=(source, 0) if source else None)
    chunks = []
    try:
        sock.sendall(data)
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        pass
    finally:
        sock.close()
    return b"".join(chunks)


def request_bytes(path: str, host: str = "x", extra: str = "", method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


def split_responses(data: bytes) -> list[tuple[int, bytes]]:
    """Parse concatenated Content-Length responses: [(status, body), ...]."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(int(line.split(":")[1]) for line in lines
                      if line.lower().startswith("content-length:"))
        out.append((int(lines[0].split()[1]), rest[:length]))
        data = rest[length:]
    return out
