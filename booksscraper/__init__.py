"""booksscraper: a polite, fast, lossless crawler of the books.toscrape.com catalogue."""
