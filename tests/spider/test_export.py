"""The JSON array written at the end from the crash-safe JSON lines."""

import json
from decimal import Decimal

from booksscraper.output.jsonlines import JsonLinesWriter
from booksscraper.pipelines.export import write_json_array


def test_array_holds_each_upc_once_and_skips_a_torn_line(tmp_path) -> None:
    jsonl = tmp_path / "books.jsonl"
    jsonl.write_text(
        '{"upc": "a", "price": "1.00"}\n'
        '{"upc": "b", "title": "Ünïcode & \\"quotes\\""}\n'
        '{"upc": "a", "price": "1.00"}\n'
        '{"upc": "c", "tit',  # a crash mid-write
        encoding="utf-8",
    )
    out = tmp_path / "books.json"
    assert write_json_array(jsonl, out) == 2
    books = json.loads(out.read_text(encoding="utf-8"))
    assert [b["upc"] for b in books] == ["a", "b"]
    assert books[1]["title"] == 'Ünïcode & "quotes"'
    assert not (tmp_path / "books.json.tmp").exists()


def test_no_items_gives_an_empty_array(tmp_path) -> None:
    out = tmp_path / "books.json"
    assert write_json_array(tmp_path / "absent.jsonl", out) == 0
    assert json.loads(out.read_text()) == []


def test_an_export_s_own_lines_are_copied_into_the_same_array(tmp_path) -> None:
    jsonl = tmp_path / "books.jsonl"
    writer = JsonLinesWriter(jsonl, append=False)
    records = [
        {"upc": "a", "price": Decimal("51.77"), "title": "Über 😀 \u2028 line\nbreak\r\t\"x\""},
        {"upc": "b", "rating": 3, "in_stock": True, "description": None, "ratio": 0.1},
    ]
    for record in records:
        writer.write(record)
    writer.close()
    parsed, copied = tmp_path / "parsed.json", tmp_path / "copied.json"
    assert write_json_array(jsonl, parsed) == write_json_array(jsonl, copied, unique=True) == 2
    assert copied.read_bytes() == parsed.read_bytes()
    assert json.loads(copied.read_text(encoding="utf-8"))[0]["price"] == "51.77"
    assert write_json_array(tmp_path / "absent.jsonl", copied, unique=True) == 0
    assert json.loads(copied.read_text()) == []
