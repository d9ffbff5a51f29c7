"""Moved to ``booksscraper.config.readers``: a re-export for the modules issue 15 rewrites."""

from booksscraper.config.readers import choice_setting, int_setting, number_setting

__all__ = ["choice_setting", "int_setting", "number_setting"]
