"""Offline sandbox: a deterministic, fault-injecting replica of books.toscrape.com."""

from .catalogue import Catalogue
from .config import ConfigError, SandboxConfig
from .pages.book import render_book
from .pages.listing import render_all_books, render_category, render_home, render_listing
from .replies import BLOCKED_MARKER, BLOCKED_PAGE
from .routes import route

__all__ = [
    "BLOCKED_MARKER", "BLOCKED_PAGE", "Catalogue", "ConfigError", "SandboxConfig",
    "render_all_books", "render_book", "render_category", "render_home", "render_listing", "route",
]
