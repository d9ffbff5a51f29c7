"""Where booksscraper reaches past Scrapy's and Twisted's public API, in one place.

Each function says what it works around, and tests/reliability/test_compat.py shows
the behaviour it depends on, so a Scrapy or Twisted upgrade that changes it fails a
test instead of a crawl.
"""

from __future__ import annotations

from scrapy.exceptions import DownloadCancelledError
from twisted.internet import tcp
from twisted.internet.interfaces import IReactorFDSet


def abort_client_connections(reactor: IReactorFDSet) -> int:
    """Abort every outgoing TCP connection of this process; how many there were.

    Scrapy closes a spider only when every download in progress has ended, and a
    download can only end by itself or by its DOWNLOAD_TIMEOUT: a hung server keeps a
    stopping crawl open for that long. Scrapy's download handlers keep no public list
    of their connections, but the reactor knows every socket it watches.
    """
    clients = {
        selectable
        for selectable in (*reactor.getReaders(), *reactor.getWriters())
        if isinstance(selectable, tcp.Client)
    }
    for client in clients:
        client.abortConnection()
    return len(clients)


def over_maxsize(exception: BaseException) -> bool:
    """Whether a download failed for being over DOWNLOAD_MAXSIZE.

    Scrapy says so in the message when Content-Length announces the size, but a body
    without it (chunked) that grows past the limit is cancelled with no message at
    all (the size is only in a WARNING). Nothing else of ours or Scrapy's cancels a
    download. tests/reliability/test_hostile_pages.py fetches both kinds of page.
    """
    if not isinstance(exception, DownloadCancelledError):
        return False
    message = str(exception)
    return not message or "max size" in message
