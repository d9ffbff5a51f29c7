"""User-Agent with the headers that go with it: identify, rotate, or one per proxy.

Modes (``USER_AGENT_MODE``):

- ``identify`` (default, the polite choice): every request says who we are
  with ``USER_AGENT`` (descriptive, with a contact URL); no browser headers.
- ``rotate``: a random browser profile per request.
- ``per_proxy``: one profile per proxy (a stable session per exit address),
  one profile for direct requests; needs the proxy middleware to run first.

A profile is a real browser's User-Agent plus the navigation headers that
browser sends (Accept, Accept-Language, Accept-Encoding, Sec-Fetch-*, and the
``Sec-CH-UA*`` client hints only for Chromium browsers: Firefox and Safari
never send them), so the headers never contradict the UA. Accept-Encoding
keeps only the codings Scrapy can decode here (zstd needs ``zstandard``, br
needs ``brotli``), so a site cannot answer with a body we cannot read.

Why a curated file rather than fake-useragent or browserforge: fake-useragent
gives only UA strings, so its Accept/client hints would contradict them;
browserforge builds consistent header sets but pulls in a large generated
data set and many headers a site has never seen together with our TLS
fingerprint. Ten reviewed profiles are easy to audit, diff and refresh.

Settings (defaults in brackets):

- ``USER_AGENT_MODE`` ["identify"]: identify, rotate or per_proxy.
- ``USER_AGENT_PROFILES_FILE`` [booksscraper/data/browser_profiles.json]: JSON
  ``{"profiles": [{"name", "family", "headers": {"User-Agent", ...}}]}``.
- ``USER_AGENT`` [the project's descriptive UA]: used in identify mode.

Stats: ``useragent/family/<family>`` per request (``identify`` in identify mode).
"""

from __future__ import annotations

import importlib.util
import json
import random
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler

from booksscraper.errors import BadConfig
from booksscraper.middlewares.checks import choice_setting
from booksscraper.middlewares.masking import proxy_key

# Through importlib.resources: under scrapyd the package is a zipped egg, not files.
DEFAULT_PROFILES_FILE: Traversable = files("booksscraper").joinpath("data/browser_profiles.json")
MODES = ("identify", "rotate", "per_proxy")
CLIENT_HINTS = ("Sec-CH-UA", "Sec-CH-UA-Mobile", "Sec-CH-UA-Platform")
CHROMIUM_FAMILIES = {"chrome", "edge"}


@dataclass(frozen=True)
class BrowserProfile:
    name: str
    family: str
    headers: dict[str, str]


def decodable_encodings() -> set[str]:
    """Content codings Scrapy's HttpCompressionMiddleware can decode with what is installed."""
    codings = {"gzip", "deflate"}
    for coding, modules in (("br", ("brotli", "brotlicffi")), ("zstd", ("zstandard",))):
        if any(importlib.util.find_spec(module) for module in modules):
            codings.add(coding)
    return codings


def load_profiles(
    path: Path | Traversable, setting: str = "USER_AGENT_PROFILES_FILE"
) -> list[BrowserProfile]:
    """Profiles from a JSON file; BadConfig naming ``setting`` when unusable."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadConfig(f"{setting}: cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise BadConfig(f"{setting}: {path} is not valid JSON: {exc}") from None
    entries = data.get("profiles") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise BadConfig(f"{setting}: {path} has no profiles (expected a non-empty 'profiles' list)")
    codings = decodable_encodings()
    profiles = []
    for index, entry in enumerate(entries):
        headers = entry.get("headers") if isinstance(entry, dict) else None
        if not isinstance(headers, dict) or not headers.get("User-Agent"):
            raise BadConfig(f"{setting}: profile {index} in {path} has no headers.User-Agent")
        family = str(entry.get("family") or "other").lower()
        if family not in CHROMIUM_FAMILIES and any(h in headers for h in CLIENT_HINTS):
            raise BadConfig(
                f"{setting}: profile {index} ({family}) sends Sec-CH-UA client hints, "
                "which only Chromium browsers send"
            )
        headers = {str(k): str(v) for k, v in headers.items()}
        if "Accept-Encoding" in headers:
            kept = [
                c.strip() for c in headers["Accept-Encoding"].split(",") if c.strip() in codings
            ]
            headers["Accept-Encoding"] = ", ".join(kept)
        profiles.append(BrowserProfile(str(entry.get("name") or index), family, headers))
    return profiles


class UserAgentMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        s = crawler.settings
        self.stats = crawler.stats
        self.mode = choice_setting(s, "USER_AGENT_MODE", "identify", MODES)
        self.identity: str = s.get("USER_AGENT") or ""
        if self.mode == "identify" and not self.identity:
            raise BadConfig("USER_AGENT: empty; identify mode needs a descriptive User-Agent")
        self.profiles: list[BrowserProfile] = []
        if self.mode != "identify":
            configured = s.get("USER_AGENT_PROFILES_FILE")
            self.profiles = load_profiles(Path(configured) if configured else DEFAULT_PROFILES_FILE)
        self.session_profiles: dict[str, BrowserProfile] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> UserAgentMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if self.mode == "identify":
            request.headers["User-Agent"] = self.identity
            self.stats.inc_value("useragent/family/identify")
            return
        profile = self._profile_for(request)
        for header in CLIENT_HINTS:  # a retry may move from a Chromium profile to another
            request.headers.pop(header, None)
        for name, value in profile.headers.items():
            request.headers[name] = value
        self.stats.inc_value(f"useragent/family/{profile.family}")

    def _profile_for(self, request: Request) -> BrowserProfile:
        if self.mode == "rotate":
            return random.choice(self.profiles)
        proxy = request.meta.get("proxy")
        session = proxy_key(proxy) if proxy else "direct"
        profile = self.session_profiles.get(session)
        if profile is None:
            profile = self.session_profiles[session] = random.choice(self.profiles)
        return profile
