"""The item fields table of docs/crawling.md lists exactly BookItem's fields
(docs/adding-a-field.md, step 6)."""

from __future__ import annotations

import dataclasses
import re

from booksscraper.items import BookItem
from tests.helpers import REPO


def documented_fields() -> list[str]:
    text = (REPO / "docs" / "crawling.md").read_text(encoding="utf-8")
    table = text.split("## Item fields", 1)[1].split("\n## ", 1)[0]
    names = []
    for line in table.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names += re.findall(r"`(\w+)`", first_cell)
    return names


def test_the_field_table_is_bookitems_fields() -> None:
    documented = documented_fields()
    assert len(documented) == len(set(documented)), "a field listed twice"
    assert set(documented) == {field.name for field in dataclasses.fields(BookItem)}
