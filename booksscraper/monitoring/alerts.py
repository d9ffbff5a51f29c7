"""Alerts: failed monitors told to a webhook and written to the alerts file.

An alert is one JSON object: ``kind`` (``close``: the crawl's end; ``periodic``:
a monitor that fired while it runs), the crawl (spider, scrapyd job id, start
URL, output folder, finish reason), the failed monitors with their figures and
thresholds, and where the report and stats are. It is appended to
``ALERTS_FILE`` in ``OUTPUT_DIR`` and POSTed as JSON to ``ALERT_WEBHOOK_URL``
when set. A webhook that fails (refused, timeout, an HTTP error) is logged once
per crawl at WARNING and never fails the crawl.

No secret goes out: credentials in the webhook URL (``https://user:pass@host/``)
are sent as HTTP Basic auth, never in the body, the file or a log line, and
every URL in an alert has its password masked (``records/credentials.py``).

Settings (defaults in docs/settings.md):

- ``ALERT_WEBHOOK_URL``: http(s) URL that receives each alert; empty: none. A secret
  (its password or token): give it as ``$BOOKS_ALERT_WEBHOOK_URL`` or in the file
  ``$BOOKS_ALERT_WEBHOOK_URL_FILE``, not on a command line (``records/credentials.py``).
- ``ALERT_WEBHOOK_TIMEOUT``: seconds for the POST.
- ``ALERTS_FILE``: in ``OUTPUT_DIR``; one alert per line (a crawl without an alert
  does not create it).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scrapy.settings import BaseSettings

from booksscraper.config.errors import BadConfig
from booksscraper.config.readers import number
from booksscraper.output.errors import OutputError
from booksscraper.output.folder import output_path
from booksscraper.output.jsonlines import JsonLinesWriter, dumps
from booksscraper.records.credentials import mask_credentials, secret

logger = logging.getLogger(__name__)


def split_credentials(url: str) -> tuple[str, str | None]:
    """(the URL without user:password@, the Basic auth header value or None)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    token = f"{parts.username}:{parts.password or ''}"
    return bare, "Basic " + base64.b64encode(token.encode()).decode()


def check_webhook_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadConfig(f"ALERT_WEBHOOK_URL: not an http(s) URL: {mask_credentials(url)!r}")
    return url


def post_json(url: str, payload: dict[str, Any], timeout: float) -> int:
    """POST ``payload`` as JSON; the HTTP status. Raises OSError (URLError...) on failure."""
    bare, auth = split_credentials(url)
    headers = {"Content-Type": "application/json", "User-Agent": "booksscraper-alerts"}
    if auth:
        headers["Authorization"] = auth
    request = urllib.request.Request(bare, data=dumps(payload).encode(), headers=headers,
                                     method="POST")
    # An environment proxy is not told about our alerts (nor given the credentials).
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as response:
        return response.status


class Alerts:
    """Writes alerts to the file and the webhook; one per call, failures logged once."""

    def __init__(self, settings: BaseSettings) -> None:
        url = secret(settings, "ALERT_WEBHOOK_URL")
        self.url = check_webhook_url(url) if url else ""
        self.timeout = number(settings, "ALERT_WEBHOOK_TIMEOUT")
        if self.timeout == 0:
            raise BadConfig(f"ALERT_WEBHOOK_TIMEOUT: {self.timeout:g} must be positive")
        self.path = output_path(settings, "ALERTS_FILE")
        self.append = bool(settings.get("JOBDIR"))
        self._writer: JsonLinesWriter | None = None
        self._webhook_failed = False
        self.sent = 0

    def write(self, alert: dict[str, Any]) -> None:
        """Append to the alerts file (OutputError if it cannot be written)."""
        if self._writer is None:
            self._writer = JsonLinesWriter(self.path, append=self.append)
        self._writer.write(alert)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def post(self, alert: dict[str, Any]) -> bool:
        """POST to the webhook, if any (blocking, at most the timeout); never raises."""
        if not self.url:
            return False
        try:
            post_json(self.url, alert, self.timeout)
        except (OSError, ValueError) as exc:
            if not self._webhook_failed:
                self._webhook_failed = True
                why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                logger.warning("Alert webhook %s failed: %s (the crawl goes on; alerts are in %s)",
                               split_credentials(self.url)[0], mask_credentials(str(why)),
                               self.path)
            return False
        self.sent += 1
        return True


def alert_payload(kind: str, crawl: dict[str, Any], failed: list[dict[str, Any]],
                  files: dict[str, Path]) -> dict[str, Any]:
    """The alert: what failed, in which crawl, where to look. URLs masked."""
    crawl = {key: mask_credentials(value) if isinstance(value, str) else value
             for key, value in crawl.items()}
    return {
        "alert": "booksscraper monitors failed",
        "kind": kind,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "crawl": crawl,
        "failed": failed,
        "files": {name: os.path.abspath(path) for name, path in files.items()},
    }


def safe_json(value: Any) -> Any:
    """``value`` made plain JSON (Decimals, datetimes as strings)."""
    return json.loads(dumps(value))


__all__ = ["Alerts", "OutputError", "alert_payload", "post_json", "split_credentials"]
