"""Errors the project raises on purpose, each reported as one line."""


class BadConfig(ValueError):
    """A setting, spider argument or input file is unusable; the crawl cannot start.

    The project's `crawl` command prints ``error: <message>`` and exits with
    status 2 instead of a traceback. The message names the setting.
    """
