"""A project of its own: its spider, the booksscraper add-on, and nothing book-specific."""

BOT_NAME = "categories"
SPIDER_MODULES = ["tests.another_project.categories"]

# The middlewares (pacing, retries with backoff, proxies, User-Agent), the duplicate
# filter and the extensions (resource monitor, progress, summary, stats.json)...
ADDONS = {"booksscraper.addon.BooksStack": 0}
# ...without what assumes a BookItem: the books pipelines, the incremental comparison of
# books and the monitors' checks of books.
ITEM_PIPELINES = {
    "booksscraper.pipelines.validation.ValidationPipeline": None,
    "booksscraper.pipelines.cleanup.CleanupPipeline": None,
    "booksscraper.pipelines.export.ExportPipeline": None,
}
INCREMENTAL = False
MONITORS_ENABLED = False

OUTPUT_DIR = "output"
ROBOTSTXT_OBEY = True
TELNETCONSOLE_ENABLED = False
