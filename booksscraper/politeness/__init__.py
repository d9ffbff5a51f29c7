"""Politeness: the adaptive concurrency control law (pure, no Scrapy); see ``law.py``."""
