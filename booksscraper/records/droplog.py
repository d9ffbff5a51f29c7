"""A dropped item in the log as one line: its URL and the reasons, never its whole text.

Scrapy's log formatter writes every dropped item in full (a description runs to
kilobytes); when a site changes, that is a thousand screens of text. The reasons
are in the exception's message and the item is in the rejects file.
"""

from __future__ import annotations

from typing import Any

from itemadapter import ItemAdapter
from scrapy.logformatter import LogFormatter, LogFormatterResult


class OneLineDrops(LogFormatter):
    def dropped(self, item: Any, exception: BaseException, response: Any,
                spider: Any) -> LogFormatterResult:
        result = super().dropped(item, exception, response, spider)
        url = ItemAdapter(item).get("url") if ItemAdapter.is_item(item) else None
        reason = " ".join(str(exception).split())  # one line, whatever the message holds
        if url and url not in reason:
            reason = f"{url}: {reason}"
        return {**result, "msg": "Dropped: %(reason)s", "args": {"reason": reason}}
