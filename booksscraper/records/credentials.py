"""Credentials never leave the process: proxy URLs are masked wherever we show them.

``http://user:secret@host:3128`` becomes ``http://user:***@host:3128``, in log
lines, stats keys, the failures file and exception messages we re-raise.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

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
