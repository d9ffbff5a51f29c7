"""Settings of the booksscraper project.

Every Scrapy setting the project sets is here with the reason. The
project's own components (middlewares, pipelines, extensions) are switched on
by one add-on line, ``ADDONS``; their settings and defaults are documented in
their modules and in docs/settings.md.
"""

BOT_NAME = "booksscraper"
SPIDER_MODULES = ["booksscraper.spiders"]
NEWSPIDER_MODULE = "booksscraper.spiders"
# Our `crawl` command: one-line errors for bad settings and a non-zero exit
# when a crawl does not finish.
COMMANDS_MODULE = "booksscraper.commands"

# `scrapy check`: @page <path> on the spider's site (booksscraper/contracts.py).
SPIDER_CONTRACTS = {"booksscraper.contracts.PageContract": 10}

# The whole stack: validation, cleanup, export, middlewares, monitoring.
ADDONS = {"booksscraper.addon.BooksStack": 0}

# Politeness. books.toscrape.com is a practice site, but we still behave:
# obey robots.txt, identify ourselves, keep per-site concurrency moderate.
ROBOTSTXT_OBEY = True
USER_AGENT = "booksscraper/0.1 (+https://github.com/booksscraper/booksscraper)"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0
# Scrapy's 180 s would let one hung connection hold a slot for three minutes.
DOWNLOAD_TIMEOUT = 30
# Book pages are ~10 KiB: anything near these is not a page of the site.
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
REDIRECT_MAX_TIMES = 5

# Security: no telnet console and no remote-control server (Scrapy 2.19's
# runs Python code sent over HTTP, and writes job files to the home folder).
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# Output (see booksscraper/output/).
OUTPUT_DIR = "output"
FEED_EXPORT_ENCODING = "utf-8"

# Scrapy starts this many asyncio tasks for EVERY response (scraper._parallel_asyncio),
# though a book page yields one item: 100 tasks a page was the crawl's largest CPU cost.
CONCURRENT_ITEMS = 8

LOG_LEVEL = "INFO"
