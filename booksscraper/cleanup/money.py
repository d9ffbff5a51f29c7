"""Money: exact ``Decimal`` amounts and ISO 4217 currency codes.

Amounts stay Decimal end to end (never float). ``normalize_amount`` quantizes
to the currency's minor unit (2 places) only when that changes no value: an
amount like 51.775 is an error, not something to round away silently.
Price strings are read here and nowhere else, with price-parser: ``read_price``
as the page shows them (extraction, ``extraction/book.py``: never raises, no repair),
``parse_price`` strictly, after the mojibake repair of ``clean_text`` ("Â£51.77"
from a client that ignored the charset).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from price_parser import Price

from booksscraper.cleanup.text import clean_text

CENTS = Decimal("0.01")
# Symbols price strings use for the currencies a bookshop is likely to show.
SYMBOL_TO_CODE = {
    "£": "GBP",
    "$": "USD",
    "US$": "USD",
    "€": "EUR",
    "¥": "JPY",
    "₹": "INR",
    "C$": "CAD",
    "A$": "AUD",
    "CHF": "CHF",
}


class MoneyError(ValueError):
    """An amount or currency that cannot be represented exactly."""


def normalize_amount(value: Decimal | int | str) -> Decimal:
    """``value`` as a non-negative Decimal with exactly 2 places; MoneyError if inexact."""
    if isinstance(value, float | bool):
        raise MoneyError(f"{value!r}: floats and booleans are not exact amounts")
    if isinstance(value, str):
        value = parse_price(value)[0]
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise MoneyError(f"{value!r} is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise MoneyError(f"{value!r} is not a non-negative finite amount")
    quantized = amount.quantize(CENTS)
    if quantized != amount:
        raise MoneyError(f"{value!r} has more than 2 decimal places")
    return quantized


def currency_code(currency: str) -> str:
    """The ISO 4217 code of a code or symbol ("gbp", "£", "Â£" -> "GBP")."""
    text = clean_text(currency)
    code = SYMBOL_TO_CODE.get(text, text.upper())
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise MoneyError(f"{currency!r} is not a known currency")
    return code


def read_price(text: str | None) -> tuple[Decimal | None, str | None]:
    """'£51.77' -> (Decimal('51.77'), 'GBP'); None for what cannot be read, never an error.

    A known symbol becomes its ISO code; another currency text is kept as shown (validation
    judges it). No text repair: extraction runs in the crawl's process, ftfy does not.
    """
    if not text:
        return None, None
    price = Price.fromstring(text)
    currency = SYMBOL_TO_CODE.get(price.currency or "", price.currency)
    return price.amount, currency


def parse_price(text: str) -> tuple[Decimal, str | None]:
    """(amount, ISO code or None) of a price string such as "£51.77"; MoneyError if unreadable."""
    amount, currency = read_price(clean_text(text))
    if amount is None:
        raise MoneyError(f"{text!r} has no amount")
    code = currency_code(currency) if currency else None
    return amount, code
