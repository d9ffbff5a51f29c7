"""`python -m booksscraper.sandbox --port 0`: prints the base URL as its first stdout line."""

from __future__ import annotations

import asyncio
import sys

from .app import serve
from .cli import fail, parse_config


def _ready(base_url: str) -> None:
    sys.stdout.write(base_url + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    config = parse_config(sys.argv[1:] if argv is None else argv)
    try:
        import uvloop  # optional: faster if installed, never required

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(serve(config, _ready))
    except OSError as exc:
        fail(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
