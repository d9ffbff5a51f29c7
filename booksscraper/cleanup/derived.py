"""Fields derived from the clean description."""

from __future__ import annotations

import math

# Adults read prose at ~238 words a minute (Brysbaert, 2019); 230 keeps it round.
WORDS_PER_MINUTE = 230


def word_count(text: str | None) -> int:
    return len(text.split()) if text else 0


def reading_time_seconds(words: int) -> int:
    """Seconds to read ``words`` words, rounded up to a whole second."""
    return math.ceil(words * 60 / WORDS_PER_MINUTE)
