"""Shared test helpers: where things are, and a real `scrapy crawl` in a subprocess."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Real pages of the site, saved byte for byte (tests/fixtures/realsite/README.md).
REALSITE = REPO / "tests" / "fixtures" / "realsite"


def free_port() -> int:
    """A loopback port free now (nothing listens there once this returns)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# scrapyd's own venv, as `make scrapyd-venv` installs it for users.
SCRAPYD_VENV = REPO / ".venv-scrapyd"


def make_scrapyd_venv() -> Path:
    """`make scrapyd-venv` (a no-op when up to date), one test process at a time (xdist)."""
    with (REPO / ".scrapyd-venv.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(["make", "-s", "scrapyd-venv"], cwd=REPO, capture_output=True,
                                text=True, timeout=900, check=False)
    assert result.returncode == 0, f"make scrapyd-venv failed:\n{result.stdout}\n{result.stderr}"
    return SCRAPYD_VENV


def realsite_page(relative: str) -> str:
    """A saved real page, by its path on the site (``index.html``, ``catalogue/...``)."""
    return (REALSITE / relative).read_text(encoding="utf-8")


def crawl_command(start_url: str, out_dir: Path, *args: str) -> list[str]:
    """The argv of `scrapy crawl books` against ``start_url``, writing into ``out_dir``."""
    return [
        sys.executable, "-m", "scrapy", "crawl", "books",
        "-a", f"start_url={start_url}", "-s", f"OUTPUT_DIR={out_dir}", *args,
    ]


def run_crawl(
    start_url: str, out_dir: Path, *args: str, timeout: float = 240,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`scrapy crawl books` against ``start_url``, writing into ``out_dir``.

    ``env`` adds to (or overrides) this process's environment.
    """
    return subprocess.run(
        crawl_command(start_url, out_dir, *args),
        cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, **env} if env else None,
    )


def run_crawl_reacting(
    start_url: str, out_dir: Path, *args: str, on_line: str, then: Callable[[], object],
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    """``run_crawl``, calling ``then()`` once, when the crawl's log first shows ``on_line``.

    For a fault that must follow an event of the crawl (a proxy revived after the crawl
    found every proxy dead), not a guess at how long start-up takes.
    """
    stderr: list[str] = []
    with tempfile.TemporaryFile("w+", encoding="utf-8") as stdout:
        process = subprocess.Popen(
            crawl_command(start_url, out_dir, *args), cwd=REPO, text=True,
            stdout=stdout, stderr=subprocess.PIPE,
        )

        def read_stderr() -> None:
            assert process.stderr is not None
            reacted = False
            for line in process.stderr:
                stderr.append(line)
                if not reacted and on_line in line:
                    reacted = True
                    then()

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        reader.join(timeout=10)
        stdout.seek(0)
        output = stdout.read()
    return subprocess.CompletedProcess(process.args, process.returncode, output, "".join(stderr))


def read_books(out_dir: Path) -> list[dict[str, Any]]:
    return json.loads((out_dir / "books.json").read_text(encoding="utf-8"))


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
