"""The approaches people write from popular articles on fast scraping, for comparison."""
