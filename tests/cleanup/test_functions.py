"""The pure cleanup functions, on real-site and sandbox descriptions and on edge cases."""

from __future__ import annotations

import random
import subprocess
import sys
import unicodedata
from decimal import Decimal

import pytest
from parsel import Selector

from booksscraper.cleanup import CleanupOptions, clean_batch, clean_record
from booksscraper.cleanup.derived import reading_time_seconds, word_count
from booksscraper.cleanup.description import repair_description
from booksscraper.cleanup.money import MoneyError, currency_code, normalize_amount, parse_price
from booksscraper.cleanup.signature import (
    ADDENDS,
    MULTIPLIERS,
    NUM_PERM,
    NearDuplicateIndex,
    _hash64,
    _minhash_python,
    minhash,
    shingles,
    similarity,
)
from booksscraper.cleanup.text import _fixer, clean_text, ftfy_keeps
from booksscraper.sandbox.catalogue import Catalogue
from tests.helpers import REPO, realsite_page

# -- text --------------------------------------------------------------------------------------


def test_mojibake_from_a_client_that_ignored_the_charset_is_repaired() -> None:
    shown = "£51.77 – Café".encode().decode("latin-1")
    assert shown.startswith("Â£")
    assert clean_text(shown) == "£51.77 – Café"


def test_text_is_nfc_with_single_spaces() -> None:
    decomposed = unicodedata.normalize("NFD", "Crème Brûlée")
    assert decomposed != "Crème Brûlée"
    assert clean_text(f"  {decomposed}\n\t and \u00a0 more  ") == "Crème Brûlée and more"


def test_authors_characters_and_literal_entities_are_kept() -> None:
    text = "“Curly” ’Tis ½ 東京物語 🚀 Æsir AT&T &amp; <br> ﬁne"
    assert clean_text(text) == text


def test_entities_are_decoded_only_on_request() -> None:
    assert clean_text("Fish &amp; Chips") == "Fish &amp; Chips"
    assert clean_text("Fish &amp; Chips", unescape_entities=True) == "Fish & Chips"


# -- descriptions -------------------------------------------------------------------------------


def _realsite_description(page: str) -> str | None:
    sel = Selector(text=page)
    node = sel.xpath('//div[@id="product_description"]/following-sibling::p[1]')
    return node.xpath("string()").get() if node else None


def texts_to_check() -> list[str]:
    """Random strings over ASCII, emoji, CJK, full-width and specials, and the sandbox's texts."""
    rng = random.Random(1)
    pools = ["abcXYZ 019.,;:!?'\"&<>()[]-_=+*/\\|@#$%^~`\t\n\r\x0b", "😊🎉👍🏽🇬🇧\ufe0f\u200d",
             "漢字かなカナ한국어\u3000", "\uff01\uff21\ufb01\ue000\uf900\ufffd",
             "éÃ©Â£€’“â€™\u0301\x85\x9d"]
    texts = ["".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 30)))
             for _ in range(20000)]
    catalogue = Catalogue(books=300, seed=3)
    for book_id in range(1, 301):
        book = catalogue.book(book_id)
        texts += [book.title, book.description or ""]
    return texts


def test_text_ftfy_would_keep_skips_it_and_comes_out_the_same() -> None:
    fix_text, config = _fixer()
    checked = 0
    for text in texts_to_check():
        if ftfy_keeps(text):
            checked += 1
            assert fix_text(text, config) == text, text
    assert checked > 1000  # the random strings reach the fast path often
    assert not ftfy_keeps("CafÃ©") and not ftfy_keeps("café") and not ftfy_keeps("a\rb")


def test_real_site_description_is_shown_once() -> None:
    shown = _realsite_description(realsite_page("catalogue/a-light-in-the-attic_1000/index.html"))
    assert shown is not None and shown.endswith(" ...more")
    clean = repair_description(shown)
    assert clean is not None
    assert clean.startswith("It's hard to imagine a world without A Light in the Attic.")
    assert clean.endswith("Shel, you never sounded so good.")
    assert clean.count("It's hard to imagine") == 1
    # The shown text is exactly: opening cut mid-word, a space, the clean text, " ...more".
    opening = shown[: len(shown) - len(clean) - len(" ...more") - 1]
    assert opening.endswith("love th") and clean.startswith(opening)
    assert shown == f"{opening} {clean} ...more"


def test_real_site_book_without_description() -> None:
    page = realsite_page(
        "catalogue/the-bridge-to-consciousness-im-writing-the-bridge-between-science-"
        "and-our-old-and-new-beliefs_840/index.html"
    )
    assert repair_description(_realsite_description(page)) is None


def test_every_sandbox_description_is_repaired_exactly() -> None:
    catalogue = Catalogue(books=3000, seed=7)
    books = [catalogue.book(i) for i in range(1, 3001)]
    assert sum(b.description_raw is not None and b.description_raw.endswith("...more")
               for b in books) > 2000
    wrong = [b.id for b in books if repair_description(b.description_raw) != b.description]
    assert wrong == []


def test_descriptions_without_the_marker_are_left_alone() -> None:
    repeated = "Run run. Run run. Run run."
    assert repair_description(repeated) == repeated
    assert repair_description("Short blurb.") == "Short blurb."
    assert repair_description("   ") is None
    assert repair_description(None) is None


def test_repair_is_idempotent_on_clean_text_ending_in_more() -> None:
    # "...more" with no repeated opening: only the marker goes.
    assert repair_description("Read on ...more") == "Read on"


# -- money --------------------------------------------------------------------------------------


def test_amounts_are_exact_two_place_decimals() -> None:
    assert str(normalize_amount(Decimal("51.7"))) == "51.70"
    assert str(normalize_amount(Decimal("51.770"))) == "51.77"
    assert str(normalize_amount(10)) == "10.00"
    assert str(normalize_amount("Â£0.10")) == "0.10"
    total = sum(normalize_amount(Decimal("0.10")) for _ in range(10))
    assert total == Decimal("1.00")  # no float drift


@pytest.mark.parametrize("bad", [Decimal("51.775"), 51.77, Decimal("-1"), Decimal("NaN"), "abc",
                                 True])
def test_inexact_or_invalid_amounts_raise(bad: object) -> None:
    with pytest.raises(MoneyError):
        normalize_amount(bad)  # type: ignore[arg-type]


def test_prices_and_currencies() -> None:
    assert parse_price("£51.77") == (Decimal("51.77"), "GBP")
    assert parse_price("Â£51.77") == (Decimal("51.77"), "GBP")
    assert parse_price("€1.234,50") == (Decimal("1234.50"), "EUR")
    assert parse_price("51.77") == (Decimal("51.77"), None)
    assert currency_code("gbp") == "GBP"
    with pytest.raises(MoneyError):
        currency_code("pounds")


# -- derived fields and signatures -------------------------------------------------------------


def test_word_count_and_reading_time() -> None:
    assert word_count(None) == 0
    assert word_count("one two  three") == 3
    assert reading_time_seconds(0) == 0
    assert reading_time_seconds(230) == 60
    assert reading_time_seconds(231) == 61


BLURB = (
    "A young cartographer maps the islands of a drowned kingdom and finds that each new chart "
    "changes the coastline it describes, until the sea itself begins to read her maps."
)


def test_minhash_similarity_tracks_text_similarity() -> None:
    edited = BLURB.replace("young", "gifted")
    other = "A cookbook of winter soups from the northern harbour towns, with notes on bread."
    sig = minhash(BLURB)
    assert sig is not None
    assert similarity(sig, minhash(BLURB)) == 1.0  # type: ignore[arg-type]
    assert similarity(sig, minhash(edited)) > 0.6  # type: ignore[arg-type]
    assert similarity(sig, minhash(other)) < 0.2  # type: ignore[arg-type]
    assert minhash(None) is None and minhash("  ") is None


def test_signatures_agree_across_processes() -> None:
    # Workers are separate interpreters: hashing must not depend on the process.
    code = (
        "import sys; from booksscraper.cleanup.signature import minhash;"
        f"print(minhash({BLURB!r}).hex(), 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True, env={"PYTHONHASHSEED": "123"})
    # That process computes it without numpy, this one (pytest loaded numpy) with it.
    assert out.stdout.split() == [minhash(BLURB).hex(), "False"]  # type: ignore[union-attr]


def test_the_written_hash_family_is_the_seeded_draw() -> None:
    import numpy as np
    rng = np.random.default_rng(0x5EED_B00C)
    mult = rng.integers(1, 2**63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    add = rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64)
    assert [int(m) for m in mult] == list(MULTIPLIERS)
    assert [int(a) for a in add] == list(ADDENDS)


def test_minhash_without_numpy_gives_the_same_bytes() -> None:
    import numpy  # noqa: F401  (loaded: minhash takes its vectorized path)

    catalogue = Catalogue(books=200, seed=7)
    descriptions = [catalogue.book(i).description or "" for i in range(1, 201)]
    texts = [BLURB, "one", "two words", *descriptions]
    for text in texts:
        grams = shingles(text)
        if grams:
            assert _minhash_python([_hash64(g) for g in grams]) == minhash(text), text


def test_near_duplicate_index_flags_the_same_blurb_under_another_title() -> None:
    index = NearDuplicateIndex(threshold=0.8)
    assert index.add("book-1", minhash(BLURB)) is None  # type: ignore[arg-type]
    assert index.add("book-2", minhash("A cookbook of winter soups and bread.")) is None  # type: ignore[arg-type]
    assert index.add("book-3", minhash(BLURB + " Now in paperback.")) == "book-1"  # type: ignore[arg-type]
    assert index.add("book-4", minhash(BLURB)) == "book-1"  # type: ignore[arg-type]


def test_sandbox_catalogue_has_no_false_near_duplicates() -> None:
    catalogue = Catalogue(books=1000, seed=7)
    index = NearDuplicateIndex(threshold=0.8)
    flagged = []
    for i in range(1, 1001):
        sig = minhash(catalogue.book(i).description)
        if sig is not None and index.add(str(i), sig) is not None:
            flagged.append(i)
    assert flagged == []


# -- records and batches ------------------------------------------------------------------------


def test_clean_record_fills_every_cleanup_field() -> None:
    catalogue = Catalogue(books=50, seed=7)
    book = next(catalogue.book(i) for i in range(1, 51)
                if catalogue.book(i).description_raw != catalogue.book(i).description)
    record = {"title": book.title, "category": book.category.name,
              "description": book.description_raw,
              "price": Decimal(book.price), "price_excl_tax": Decimal(book.price),
              "price_incl_tax": Decimal(book.price), "tax": Decimal("0"), "currency": "GBP"}
    out = clean_record(record, CleanupOptions())
    assert out["description"] == book.description
    assert out["description_raw"] == book.description_raw
    assert out["title"] == book.title
    assert str(out["tax"]) == "0.00" and out["price"] == Decimal(book.price)
    assert out["currency"] == "GBP"
    assert out["word_count"] == len(book.description.split())  # type: ignore[union-attr]
    assert out["reading_time_s"] == reading_time_seconds(out["word_count"])
    assert out["_signature"] == minhash(book.description)
    # Cleaning a cleaned record changes nothing: description_raw is the source.
    again = clean_record({**record, **out}, CleanupOptions())
    assert again["description"] == book.description


def test_one_bad_record_does_not_fail_its_batch() -> None:
    good = {"description": "Fine.", "price": Decimal("1.00")}
    results = clean_batch([good, {"description": "x", "price": Decimal("1.005")}, good],
                          CleanupOptions(signatures=False))
    assert [ok for ok, _ in results] == [True, False, True]
    assert results[1][1].startswith("MoneyError: ")
    assert results[0][1]["description"] == "Fine."


def test_sandbox_pages_rendered_in_process_are_repaired_exactly() -> None:
    # Through the HTML: escaped on the page, decoded by parsel, then repaired.
    from booksscraper.sandbox.pages.book import render_book

    catalogue = Catalogue(books=400, seed=7)
    wrong = []
    for book_id in range(1, 401):
        page = render_book(catalogue, book_id).decode("utf-8")
        if repair_description(_realsite_description(page)) != catalogue.book(book_id).description:
            wrong.append(book_id)
    assert wrong == []
