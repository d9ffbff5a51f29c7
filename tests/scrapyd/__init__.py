"""Scheduling `books` on a real scrapyd, deployed to with scrapyd-client."""
