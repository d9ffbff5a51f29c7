"""Text generation and escaping: titles and descriptions varied enough to catch extraction bugs."""

from __future__ import annotations

import random
import re
import unicodedata


def esc(text: str) -> str:
    """Django's escape(): the real site writes ' as &#39; (html.escape would write &#x27;)."""
    # A replace chain: several times faster than str.translate with a dict.
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def esc_text(text: str) -> str:
    """Text inside the description <p>: the real site leaves quotes raw there."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slugify(text: str) -> str:
    """Django's slugify (ASCII): "Hide Away (Eve Duncan #20)" -> "hide-away-eve-duncan-20"."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text.lower())
    return re.sub(r"[-\s]+", "-", text).strip("-_")


def truncate_words(text: str, n: int = 4) -> str:
    """Django's truncatewords:4 as used by the listings: first n words plus " ..."."""
    words = text.split()
    return text if len(words) <= n else " ".join(words[:n]) + " ..."


_WORDS = (
    "light", "attic", "velvet", "objects", "history", "dream", "secret", "river", "night",
    "garden", "house", "stone", "winter", "summer", "shadow", "city", "mountain", "ocean", "girl",
    "boy", "king", "queen", "war", "peace", "love", "murder", "time", "fire", "water", "road",
    "journey", "letter", "silence", "world", "heart", "mind", "star", "moon", "forest", "island",
    "storm", "glass", "iron", "book", "music", "empire", "kingdom", "bridge", "door", "window",
    "mirror", "wolf", "raven", "orchard", "harbour", "lantern",
)
_SMALL = ("the", "of", "a", "in", "and", "on", "at", "to", "for", "with")
_SPECIAL = (
    "Café", "Über", "naïve", "Crème Brûlée", "São Paulo", "Æsir", "Zoë", "Ångström", "Œuvre",
    "東京物語", "三体", "北京", "ソウル", "🚀", "📚", "😀", "Ελλάδα", "Москва",
    "Rock & Roll", "Tom & Jerry", "A < B", "B > A", "<br>", "<script>", "&amp;", "Fish & Chips",
    '"Quoted"', "It's", "Don't", "O'Brien", "5 > 3", "AT&T", "“Curly”", "’Tis", "½", "100%",
)
_SERIES = ("Chronicles", "Saga", "Mysteries", "Trilogy", "Cycle", "Novels", "Quartet")


def _word(rng: random.Random, special: float = 0.12) -> str:
    return rng.choice(_SPECIAL) if rng.random() < special else rng.choice(_WORDS)


def title_for(rng: random.Random, book_id: int) -> str:
    shape = rng.random()
    if shape < 0.30:
        n = rng.randint(1, 3)
    elif shape < 0.80:
        n = rng.randint(4, 8)
    elif shape < 0.95:
        n = rng.randint(9, 20)
    else:
        n = rng.randint(30, 60)  # very long: cut hard in listings
    words = [_word(rng) if i == 0 or rng.random() < 0.7 else rng.choice(_SMALL) for i in range(n)]
    words[0] = words[0][:1].upper() + words[0][1:]
    title = " ".join(w.capitalize() if w in _WORDS and rng.random() < 0.6 else w for w in words)
    if rng.random() < 0.2:
        title += f" ({rng.choice(_WORDS).capitalize()} {rng.choice(_SERIES)} #{rng.randint(1, 30)})"
    return title


def _sentence(rng: random.Random) -> str:
    words = [_word(rng, 0.08) if rng.random() < 0.75 else rng.choice(_SMALL)
             for _ in range(rng.randint(5, 16))]
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words) + rng.choice((".", ".", ".", "!", "?"))


def description_for(rng: random.Random) -> tuple[str | None, str | None]:
    """(clean description, text as the page shows it) — None for books without a description.

    Long descriptions are shown the way the real site shows them: an opening cut mid-word,
    a space, the full text, then " ...more".
    """
    shape = rng.random()
    if shape < 0.03:
        return None, None
    target = rng.randint(40, 280) if shape < 0.18 else rng.randint(450, 1500)
    sentences: list[str] = []
    length = 0
    while length < target:
        s = _sentence(rng)
        if s in sentences:
            continue
        sentences.append(s)
        length += len(s) + 1
    full = " ".join(sentences)
    if shape < 0.18 and len(full) < 300:
        return full, full
    cut = rng.randint(300, 399)
    if cut >= len(full):
        cut = len(full) // 2
    while full[cut - 1].isspace():  # never end the opening on a space: it is cut mid-word
        cut -= 1
    return full, f"{full[:cut]} {full} ...more"
