"""Command-line tools around the crawler: `make crawl`, comparisons with ground truth."""
