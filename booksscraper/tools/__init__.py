"""Command-line tools around the crawler: `make crawl`, `make cluster`, ground-truth checks."""
