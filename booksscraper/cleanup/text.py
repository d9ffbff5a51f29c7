"""Text repair: mojibake, Unicode normalization (NFC) and whitespace.

ftfy does the Unicode work: it is the maintained tool for mojibake ("Â£" from
a client that read UTF-8 as Latin-1), and it only changes text that is
provably mis-decoded, so real accents, CJK, emoji and curly quotes survive.
Its config here is deliberately narrow:

- no HTML unescaping: parsel already decoded the page's entities, so a literal
  "&amp;" in a text is the author's and must stay (unescaping twice corrupts);
  ``unescape_entities=True`` is for text that was escaped twice upstream;
- quotes are not uncurled, ligatures and full-width characters are kept: they
  are the author's characters, not encoding damage.

Text ftfy would leave as it is skips it (most titles: ASCII, perhaps an emoji), so a
short crawl cleaning inline never imports it and the pool's workers do less.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import cache
from typing import Any

_WHITESPACE = re.compile(r"\s+")
# Characters ftfy never changes in NFC text with this config: printable ASCII, tab, newline,
# and U+3000 up (CJK, emoji...) but surrogates and specials (U+FFF0-U+FFFF: U+FFFD). Mojibake
# is made of the characters of single-byte code pages, all below U+3000.
_FTFY_KEEPS = re.compile(r"[\t\n\x20-\x7e\u3000-\ud7ff\ue000-\uffef\U00010000-\U0010ffff]*")


def clean_text(text: str, *, unescape_entities: bool = False) -> str:
    """``text`` with mojibake repaired, NFC-normalized, whitespace runs collapsed, trimmed."""
    if unescape_entities:
        text = html.unescape(text)
    if not ftfy_keeps(text):
        fix_text, config = _fixer()
        text = fix_text(text, config)
    return _WHITESPACE.sub(" ", text).strip()


def clean_optional_text(text: str | None) -> str | None:
    """``clean_text`` for optional fields: None and blank text become None."""
    if text is None:
        return None
    return clean_text(text) or None


def ftfy_keeps(text: str) -> bool:
    """True when ftfy (our config) would return ``text`` unchanged, known without ftfy."""
    return _FTFY_KEEPS.fullmatch(text) is not None and (
        text.isascii() or unicodedata.is_normalized("NFC", text)
    )


@cache
def _fixer() -> tuple[Any, Any]:
    """ftfy's fix_text and our config, imported by the first text (in a cleanup worker)."""
    import ftfy

    config = ftfy.TextFixerConfig(
        unescape_html=False,
        uncurl_quotes=False,
        fix_latin_ligatures=False,
        fix_character_width=False,
        normalization="NFC",
        explain=False,
    )
    return ftfy.fix_text, config
