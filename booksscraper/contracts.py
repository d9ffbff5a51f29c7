"""Spider contracts of the project (``scrapy check``), on top of Scrapy's.

``@page <path>``: the contract's request is ``<path>`` on the spider's site, its
``start_url`` (``-a start_url=...``), where Scrapy's ``@url`` needs a whole URL. The books
spider's contracts describe the sandbox's default catalogue (``python -m booksscraper.sandbox``:
1000 books, seed 0), so ``scrapy check books -a start_url=<the sandbox's URL>`` checks them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from scrapy.contracts import Contract

# The spider argument that names the site: a spider that takes it gets its site from it.
SITE_ARGUMENT = "start_url"


class PageContract(Contract):
    name = "page"

    def adjust_request_args(self, args: dict[str, Any]) -> dict[str, Any]:
        spider = args["callback"].__self__  # the spider's bound callback
        args["url"] = urljoin(getattr(spider, SITE_ARGUMENT), self.args[0])
        return args
