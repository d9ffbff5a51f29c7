"""Another Scrapy project that uses the booksscraper stack (docs/in-your-project.md)."""
