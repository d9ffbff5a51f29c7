"""The project's spiders (``books``).

Scrapy's HTTP/1.1 download handler is imported here, first: our middlewares import its
``TunnelError``, and importing it runs Scrapy's ``create_deprecated_class``, which calls
``inspect.stack()``, whose cost grows with the depth of the import chain (measured in
BENCHMARKS.md, start-up).
"""

import scrapy.core.downloader.handlers.http11  # noqa: F401
