"""Where booksscraper reaches past Scrapy's and Twisted's public API, in one place.

Each function says what it works around, and tests/reliability/test_compat.py shows
the behaviour it depends on, so a Scrapy or Twisted upgrade that changes it fails a
test instead of a crawl.
"""

from __future__ import annotations

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
