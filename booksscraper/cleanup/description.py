"""Repair of the site's book descriptions.

The site shows a long description as its opening (the first ~300 characters,
cut mid-word), a space, the full description, then " ...more" (see the real
page catalogue/a-light-in-the-attic_1000). ``repair_description`` returns the
full description once; the text as shown is kept by the caller.
"""

from __future__ import annotations

from booksscraper.cleanup.text import clean_text

MORE_MARKER = "...more"


def repair_description(shown: str | None) -> str | None:
    """The clean description from the text the page shows; None when there is none.

    Only a text ending in "...more" is de-duplicated: a description that merely
    happens to repeat itself is the author's and is left alone.
    """
    if shown is None:
        return None
    text = clean_text(shown)
    if not text.endswith(MORE_MARKER):
        return text or None
    text = text[: -len(MORE_MARKER)].rstrip()
    return _drop_repeated_opening(text) or None


def _drop_repeated_opening(text: str) -> str:
    """``text`` is "<opening> <full>" where <full> starts with <opening>: return <full>.

    Every space at index k splits ``text`` into a candidate opening ``text[:k]``
    and full text ``text[k + 1:]``; the split is right when the full text starts
    with the opening. The longest such opening wins (the site's opening is a
    long cut, and a shorter match could only come from a self-repeating start).
    Without a match the text is returned unchanged.
    """
    best = -1
    k = text.find(" ")
    while 0 < k <= (len(text) - 1) // 2:
        if text.startswith(text[:k], k + 1):
            best = k
        k = text.find(" ", k + 1)
    return text if best < 0 else text[best + 1 :]
