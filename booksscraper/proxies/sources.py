"""Where the proxies come from, first found: ``ROTATING_PROXY_LIST_PATH`` (a file, one per
line, ``#`` comments), ``ROTATING_PROXY_LIST`` (a list or a comma-separated string), the
environment variable named by ``ROTATING_PROXY_ENV_VAR`` (comma or whitespace separated).
None: direct connections. A malformed URL is one ``BadConfig`` line, its password masked.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from scrapy.settings import BaseSettings

from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import text, text_list
from booksscraper.records.credentials import mask_proxy


def parse_proxy_url(text: str, setting: str) -> str:
    """A proxy URL, ``http://`` added when no scheme is given; BadConfig (masked) when malformed."""
    url = text if "://" in text else f"http://{text}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        port = None
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or port is None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise BadConfig(
            f"{setting}: malformed proxy URL {mask_proxy(text)!r} "
            "(expected http[s]://[user:password@]host:port)"
        )
    return url.rstrip("/")


def configured_proxies(settings: BaseSettings, environ: dict[str, str] | None = None) -> list[str]:
    """The proxy list from the file, the setting or the environment (first found), validated."""
    environ = os.environ if environ is None else environ
    path = text(settings, "ROTATING_PROXY_LIST_PATH")
    listed = text_list(settings, "ROTATING_PROXY_LIST")
    env_var = text(settings, "ROTATING_PROXY_ENV_VAR")
    if path:
        setting = "ROTATING_PROXY_LIST_PATH"
        try:
            content = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            raise BadConfig(f"{setting}: cannot read proxy file {path}: {why}") from None
        entries = [line.strip() for line in content.splitlines()]
    elif any(listed):
        setting = "ROTATING_PROXY_LIST"
        entries = [e.strip() for e in listed]
    elif env_var and environ.get(env_var, "").strip():
        setting = env_var
        entries = re.split(r"[\s,]+", environ[env_var])
    else:
        return []
    proxies = [parse_proxy_url(e, setting) for e in entries if e and not e.startswith("#")]
    if path and not proxies:
        raise BadConfig(f"ROTATING_PROXY_LIST_PATH: proxy file {path} lists no proxies")
    return list(dict.fromkeys(proxies))  # keep order, drop repeats


def basic_auth(proxy: str) -> bytes:
    parts = urlsplit(proxy)
    user_pass = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return b"Basic " + base64.b64encode(user_pass.encode("latin-1"))
