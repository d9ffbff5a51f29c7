"""The project's settings in one place: declared once, read through typed readers.

- ``declared``: every project setting with its default, type and meaning (docs/settings.md
  is generated from it: ``python -m booksscraper.config.docs``).
- ``readers``: the typed readers; a bad value is one ``BadConfig`` line naming the setting.
- ``settings_check``: Scrapy's own numeric settings checked at start-up.
- ``typos``: an unknown ``-s`` or ``-a`` name close to a known one, named in a WARNING.
"""
