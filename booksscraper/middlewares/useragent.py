"""User-Agent with the headers that go with it: identify, rotate, or one per proxy.

Modes (``USER_AGENT_MODE``):

- ``identify`` (default, the polite choice): every request says who we are
  with ``USER_AGENT`` (descriptive, with a contact URL); no browser headers.
- ``rotate``: a random browser profile per request.
- ``per_proxy``: one profile per proxy (a stable session per exit address),
  one profile for direct requests; needs the proxy middleware to run first.

A profile is a real browser's User-Agent plus the headers that browser sends
when a person types the address (Accept, Accept-Language, Accept-Encoding,
Sec-Fetch-*, and the ``Sec-CH-UA*`` client hints only for Chromium browsers:
Firefox and Safari never send them). ``load_profiles`` refuses a profile whose
headers contradict its UA (``profile_problems``). Accept-Encoding keeps only
the codings Scrapy can decode here (zstd needs ``zstandard``, br needs
``brotli``), so a site cannot answer with a body we cannot read.

Per request:

- The header names a profile set are kept in ``request.meta["useragent_headers"]``;
  a retry that draws another profile first removes them all, so it carries
  exactly the new profile's headers (no Sec-CH-UA from a Chrome profile on a
  Firefox UA, no Sec-Fetch-User from Firefox on Safari).
- ``Sec-Fetch-Site`` says how the request came about, as the browser would: no
  Referer (a start URL, typed in) ``none``; a Referer of the same origin (a
  followed link) ``same-origin``; another origin ``cross-site`` (no public
  suffix list here, so ``same-site`` is never claimed). ``Sec-Fetch-User: ?1``
  stays on both: a person clicking a link is a user-activated navigation too.

The profiles file is written by ``python -m booksscraper.tools.browser_profiles``
(see there how to refresh it); why not fake-useragent or browserforge: the
README's User-Agent paragraph.

Settings (defaults in brackets):

- ``USER_AGENT_MODE``: identify, rotate or per_proxy.
- ``USER_AGENT_PROFILES_FILE``: JSON
  ``{"profiles": [{"name", "family", "headers": {"User-Agent", ...}}]}``.
- ``USER_AGENT`` [the project's descriptive UA]: used in identify mode.

Stats: ``useragent/family/<family>`` per request (``identify`` in identify mode).
"""

from __future__ import annotations

import importlib.util
import json
import random
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.utils.httpobj import urlparse_cached

from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import choice, text
from booksscraper.records.credentials import proxy_key

# Through importlib.resources: under scrapyd the package is a zipped egg, not files.
DEFAULT_PROFILES_FILE: Traversable = files("booksscraper").joinpath("data/browser_profiles.json")
MODES = ("identify", "rotate", "per_proxy")
CLIENT_HINTS = ("Sec-CH-UA", "Sec-CH-UA-Mobile", "Sec-CH-UA-Platform")
CHROMIUM_FAMILIES = {"chrome", "edge"}
APPLIED = "useragent_headers"  # request.meta: the header names the profile set
_FAMILY_VERSION = (  # first match wins: Edge's UA also says Chrome, Chrome's says Safari
    ("edge", re.compile(r"Edg/(\d+)")),
    ("chrome", re.compile(r"Chrome/(\d+)")),
    ("firefox", re.compile(r"Firefox/(\d+)")),
    ("safari", re.compile(r"Version/(\d+)[\d.]* (?:Mobile/\w+ )?Safari/")),
)
_PLATFORMS = (  # Sec-CH-UA-Platform for the OS in the UA; Android before Linux
    ("Android", "Android"),
    ("Windows NT", "Windows"),
    ("Macintosh", "macOS"),
    ("iPhone", "iOS"),
    ("Linux", "Linux"),
)


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


def profile_problems(family: str, headers: dict[str, str]) -> list[str]:
    """Where ``headers`` contradict their own User-Agent (empty when they agree)."""
    ua = headers.get("User-Agent", "")
    found = next(((f, int(m[1])) for f, rx in _FAMILY_VERSION if (m := rx.search(ua))), None)
    if found is None:
        return [f"no browser and version recognised in User-Agent {ua!r}"]
    ua_family, major = found
    problems = []
    if ua_family != family:
        problems.append(f"family {family!r} but the User-Agent is {ua_family}'s")
    hints = [h for h in CLIENT_HINTS if h in headers]
    if ua_family not in CHROMIUM_FAMILIES:
        if hints:
            problems.append(f"sends {', '.join(hints)}, which only Chromium browsers send")
        return problems
    if len(hints) != len(CLIENT_HINTS):
        return [*problems, f"a Chromium User-Agent without all of {', '.join(CLIENT_HINTS)}"]
    brand = "Microsoft Edge" if ua_family == "edge" else "Google Chrome"
    for name in (brand, "Chromium"):
        if f'"{name}";v="{major}"' not in headers["Sec-CH-UA"]:
            problems.append(f'Sec-CH-UA lacks "{name}";v="{major}" (the User-Agent\'s version)')
    mobile = "?1" if "Mobile" in ua else "?0"
    if headers["Sec-CH-UA-Mobile"] != mobile:
        problems.append(f"Sec-CH-UA-Mobile should be {mobile} for this User-Agent")
    platform = next((p for marker, p in _PLATFORMS if marker in ua), None)
    if headers["Sec-CH-UA-Platform"] != f'"{platform}"':
        problems.append(f'Sec-CH-UA-Platform should be "{platform}" for this User-Agent')
    return problems


def fetch_site(request: Request) -> str:
    """``Sec-Fetch-Site`` for ``request``: none (no Referer), same-origin or cross-site."""
    referer = request.headers.get("Referer")
    if not referer:
        return "none"
    origin = urlsplit(referer.decode("latin-1"))
    target = urlparse_cached(request)
    same = (origin.scheme, origin.netloc) == (target.scheme, target.netloc)
    return "same-origin" if same else "cross-site"


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
        headers = {str(k): str(v) for k, v in headers.items()}
        problems = profile_problems(family, headers)
        if problems:
            raise BadConfig(
                f"{setting}: profile {index} ({entry.get('name') or family}) in {path}: "
                f"{'; '.join(problems)}"
            )
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
        self.mode = choice(s, "USER_AGENT_MODE", MODES)
        self.identity: str = s.get("USER_AGENT") or ""
        if self.mode == "identify" and not self.identity:
            raise BadConfig("USER_AGENT: empty; identify mode needs a descriptive User-Agent")
        self.profiles: list[BrowserProfile] = []
        if self.mode != "identify":
            configured = text(s, "USER_AGENT_PROFILES_FILE")
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
        for name in request.meta.get(APPLIED, ()):  # a retry may draw another profile
            request.headers.pop(name, None)
        for name, value in profile.headers.items():
            request.headers[name] = value
        if "Sec-Fetch-Site" in profile.headers:
            request.headers["Sec-Fetch-Site"] = fetch_site(request)
        request.meta[APPLIED] = list(profile.headers)
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
