"""Credentials never leave the process: proxy URLs are masked wherever we show them.

``http://user:secret@host:3128`` becomes ``http://user:***@host:3128``, in log
lines, stats keys, the failures file and exception messages we re-raise. Secret
settings come from the environment or a file (``secret``), never from a command line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from scrapy.settings import BaseSettings

from booksscraper.config.errors import BadConfig

# scheme://user:password@  (the password is whatever comes before the last @ of the authority)
_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@")


def mask_proxy(url: str | None) -> str | None:
    """The proxy URL with its password replaced by ``***``."""
    if not url:
        return url
    return mask_credentials(url)


def mask_credentials(text: str) -> str:
    """``text`` with every ``scheme://user:password@`` turned into ``scheme://user:***@``."""
    return _CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", text)


def proxy_key(url: str) -> str:
    """``scheme://host:port`` of a proxy URL, credentials stripped: its identity and slot key."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{host}:{port}"


# Secrets never need a command line (where `ps` and scrapyd's log show them): each secret
# setting also comes from the environment, as the value or as the path of a file holding it.
SECRET_ENV_PREFIX = "BOOKS_"


def secret(settings: BaseSettings, name: str, environ: Mapping[str, str] | None = None) -> str:
    """A secret setting: its value, else ``$BOOKS_<NAME>``, else the file ``$BOOKS_<NAME>_FILE``.

    An environment variable that is present but empty is a wiring mistake (a container's
    unset variable), not "no value": BadConfig names it.
    """
    value = settings.get(name)
    if value:
        return str(value)
    environ = os.environ if environ is None else environ
    var = SECRET_ENV_PREFIX + name
    file_var = f"{var}_FILE"
    for present in (var, file_var):
        if present in environ and not environ[present].strip():
            raise BadConfig(f"{name}: ${present} is set but empty")
    if environ.get(var):
        return environ[var].strip()
    path = environ.get(file_var)
    if not path:
        return ""
    try:
        content = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise BadConfig(f"{name}: cannot read ${file_var} ({path}): {why}") from None
    if not content:
        raise BadConfig(f"{name}: the file ${file_var} ({path}) is empty")
    return content
