"""Moved to ``booksscraper.records.failures``; a re-export until issue 15's modules import it."""

from booksscraper.records.failures import FAILURES_COUNT, RECORDED, Failures, RequestRecorded

__all__ = ["FAILURES_COUNT", "RECORDED", "Failures", "RequestRecorded"]
