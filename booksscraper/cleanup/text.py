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
"""

from __future__ import annotations

import html
import re
from functools import cache
from typing import Any

_WHITESPACE = re.compile(r"\s+")


def clean_text(text: str, *, unescape_entities: bool = False) -> str:
    """``text`` with mojibake repaired, NFC-normalized, whitespace runs collapsed, trimmed."""
    if unescape_entities:
        text = html.unescape(text)
    fix_text, config = _fixer()
    text = fix_text(text, config)
    return _WHITESPACE.sub(" ", text).strip()


def clean_optional_text(text: str | None) -> str | None:
    """``clean_text`` for optional fields: None and blank text become None."""
    if text is None:
        return None
    return clean_text(text) or None


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
