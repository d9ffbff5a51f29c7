"""Write ``booksscraper/data/browser_profiles.json`` for given browser versions.

    python -m booksscraper.tools.browser_profiles --chrome 146 --firefox 149 --safari 26.2

How to refresh the profiles (every few months): look up the current stable
versions (Chrome and Edge share Chromium's major version), run the command
above with them, and run ``pytest tests/middlewares/test_pure.py``, which
checks every profile against its User-Agent. Each profile is the header set a
browser sends when a person types the address (navigation, ``Sec-Fetch-Site:
none``), as captured from that browser's developer tools; the middleware turns
it into a followed link's (``same-origin``) when the request has a Referer.

The ``Sec-CH-UA`` brand list is what Chromium derives from its major version
(``GenerateBrandVersionList`` in ``components/embedder_support/user_agent_utils.cc``):
a "GREASE" brand and an order that change with every release, so it is
computed here, never typed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "browser_profiles.json"

_GREASE_CHARS = (" ", "(", ":", "-", ".", "/", ")", ";", "=", "?", "_")
_GREASE_VERSIONS = ("8", "99", "24")
_ORDERS = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))

_CHROMIUM_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
    "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
_PLAIN_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
_NAVIGATE = {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}


def chromium_brands(brand: str, major: int) -> str:
    """The ``Sec-CH-UA`` value Chromium ``major`` sends for ``brand`` ("Google Chrome", ...)."""
    greasy = (
        f"Not{_GREASE_CHARS[major % 11]}A{_GREASE_CHARS[(major + 1) % 11]}Brand",
        _GREASE_VERSIONS[major % 3],
    )
    order = _ORDERS[major % 6]
    slots: list[tuple[str, str]] = [("", "")] * 3
    slots[order[0]], slots[order[1]], slots[order[2]] = (
        greasy,
        ("Chromium", str(major)),
        (brand, str(major)),
    )
    return ", ".join(f'"{name}";v="{version}"' for name, version in slots)


def _chromium(
    name: str, major: int, os_part: str, platform: str, edge: bool = False
) -> dict[str, Any]:
    mobile = "Android" in os_part
    ua = (
        f"Mozilla/5.0 ({os_part}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 "
        f"{'Mobile ' if mobile else ''}Safari/537.36{f' Edg/{major}.0.0.0' if edge else ''}"
    )
    return {
        "name": f"{name}-{major}-{platform.lower()}",
        "family": "edge" if edge else "chrome",
        "headers": {
            "User-Agent": ua,
            "Accept": _CHROMIUM_ACCEPT,
            "Accept-Language": "en-US,en;q=0.9",
            "Accept-Encoding": "gzip, deflate, br, zstd",
            "Sec-CH-UA": chromium_brands("Microsoft Edge" if edge else "Google Chrome", major),
            "Sec-CH-UA-Mobile": "?1" if mobile else "?0",
            "Sec-CH-UA-Platform": f'"{platform}"',
            "Upgrade-Insecure-Requests": "1",
            **_NAVIGATE,
            "Sec-Fetch-User": "?1",
            "Sec-Fetch-Dest": "document",
        },
    }


def _firefox(major: int, os_part: str, platform: str) -> dict[str, Any]:
    gecko = f"{major}.0" if "Android" in os_part else "20100101"
    return {
        "name": f"firefox-{major}-{platform.lower()}",
        "family": "firefox",
        "headers": {
            "User-Agent": f"Mozilla/5.0 ({os_part}; rv:{major}.0) Gecko/{gecko} Firefox/{major}.0",
            "Accept": _PLAIN_ACCEPT,
            "Accept-Language": "en-US,en;q=0.5",
            "Accept-Encoding": "gzip, deflate, br, zstd",
            "Upgrade-Insecure-Requests": "1",
            **_NAVIGATE,
            "Sec-Fetch-User": "?1",
            "Sec-Fetch-Dest": "document",
        },
    }


def _safari(version: str, device: str) -> dict[str, Any]:
    if device == "iphone":  # iOS 26 reports a frozen OS version, as macOS does
        ua = (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) Version/{version} Mobile/15E148 Safari/604.1"
        )
    else:
        ua = (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) Version/{version} Safari/605.1.15"
        )
    return {
        "name": f"safari-{version.split('.')[0]}-{device}",
        "family": "safari",
        "headers": {
            "User-Agent": ua,
            "Accept": _PLAIN_ACCEPT,
            "Accept-Language": "en-US,en;q=0.9",
            "Accept-Encoding": "gzip, deflate, br",
            **_NAVIGATE,
            "Sec-Fetch-Dest": "document",
        },
    }


def build_profiles(chrome: int, firefox: int, safari: str) -> dict[str, Any]:
    """The profiles file's content for these versions (Edge follows Chrome's major)."""
    return {
        "_comment": (
            "Written by python -m booksscraper.tools.browser_profiles "
            f"--chrome {chrome} --firefox {firefox} --safari {safari}; see that module "
            "to refresh. Navigation headers as each browser sends them for a typed-in "
            "address; client hints only for Chromium."
        ),
        "profiles": [
            _chromium("chrome", chrome, "Windows NT 10.0; Win64; x64", "Windows"),
            _chromium("chrome", chrome, "Macintosh; Intel Mac OS X 10_15_7", "macOS"),
            _chromium("chrome", chrome, "X11; Linux x86_64", "Linux"),
            _chromium("chrome", chrome, "Linux; Android 10; K", "Android"),
            _chromium("edge", chrome, "Windows NT 10.0; Win64; x64", "Windows", edge=True),
            _firefox(firefox, "Windows NT 10.0; Win64; x64", "Windows"),
            _firefox(firefox, "Macintosh; Intel Mac OS X 10.15", "macOS"),
            _firefox(firefox, "Android 15; Mobile", "Android"),
            _safari(safari, "macos"),
            _safari(safari, "iphone"),
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m booksscraper.tools.browser_profiles", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--chrome", type=int, required=True, help="Chrome and Edge major version")
    parser.add_argument("--firefox", type=int, required=True, help="Firefox major version")
    parser.add_argument("--safari", required=True, help="Safari version, e.g. 26.2")
    parser.add_argument("--output", type=Path, default=DATA_FILE)
    options = parser.parse_args(argv)
    content = build_profiles(options.chrome, options.firefox, options.safari)
    options.output.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(content['profiles'])} profiles to {options.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
