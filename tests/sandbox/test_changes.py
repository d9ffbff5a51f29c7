"""Conditional requests (ETag, Last-Modified, 304) and catalogue changes at run time."""

from __future__ import annotations

import json
import re

import pytest

from booksscraper.sandbox.testing import RunningSandbox, SandboxError

from .net import get

pytestmark = pytest.mark.timeout(60)

BOOK = re.compile(r'<h3><a href="([^"]+)"')


def _changes(sb: RunningSandbox) -> list[dict]:
    return [json.loads(line) for line in sb._call("__changes.jsonl").splitlines()]


def test_validators_and_304(sb: RunningSandbox) -> None:
    for path in ("", "catalogue/page-3.html", "catalogue/category/books/default_15/index.html",
                 "catalogue/category/books_1/page-2.html"):
        first = get(sb.base_url, path)
        tag, modified = first.headers["etag"], first.headers["last-modified"]
        again = get(sb.base_url, path, headers={"If-None-Match": tag})
        assert (again.status, again.body, again.headers["etag"]) == (304, b"", tag), path
        assert get(sb.base_url, path, headers={"If-Modified-Since": modified}).status == 304
        # If-None-Match wins over If-Modified-Since (RFC 9110): a stale tag gets the page.
        stale = get(sb.base_url, path, headers={"If-None-Match": '"x"',
                                                "If-Modified-Since": modified})
        assert stale.status == 200 and stale.body == first.body
    stats = sb.stats()
    assert stats["by_status"]["304"] == 8
    assert stats["bytes_sent"] > 4 * 20_000  # counted at the server: heads and bodies
    sb.configure(validators=False)
    plain = get(sb.base_url, "catalogue/page-3.html", headers={"If-None-Match": "*"})
    assert plain.status == 200 and "etag" not in plain.headers
    assert "last-modified" not in plain.headers


def test_changes_keep_every_page_consistent(sb: RunningSandbox) -> None:
    book_path = "catalogue/page-1.html"
    before = {line["url"]: line for line in sb.truth()}
    tags = {}
    sample = [u.removeprefix(sb.base_url) for u in list(before)[:400]]
    for path in sample:
        tags[path] = get(sb.base_url, path).headers["etag"]
    sb.configure(changes={"price": 7, "availability": 5, "rating": 3, "description": 2,
                          "add": 4, "remove": 6, "seed": 3})
    after = {line["url"]: line for line in sb.truth()}
    changes = _changes(sb)
    assert len(changes) == 7 + 5 + 3 + 2 + 4 + 6
    kinds = [c["change"] for c in changes]
    assert (kinds.count("new"), kinds.count("removed"), kinds.count("changed")) == (4, 6, 17)
    assert len(after) == len(before) + 4 - 6
    for c in changes:
        if c["change"] == "removed":
            assert c["url"] not in after and c["url"] in before
            assert get(sb.base_url, c["url"].removeprefix(sb.base_url)).status == 404
        elif c["change"] == "new":
            assert c["url"] in after and c["url"] not in before
        else:
            old, new = before[c["url"]], after[c["url"]]
            assert c["fields"] == {k: [old[k], new[k]] for k in new if old[k] != new[k]}
            assert c["fields"]
    # The listings show exactly the books of the catalogue, with their new prices.
    listed, page = [], 1
    while True:
        ans = get(sb.base_url, f"catalogue/page-{page}.html")
        if ans.status == 404:
            break
        listed += BOOK.findall(ans.body.decode())
        page += 1
    assert len(listed) == len(after) == len(set(listed))
    first = get(sb.base_url, book_path).body.decode()
    assert f"<strong>{len(after)}</strong> results" in first
    assert f"Page 1 of {-(-len(after) // 20)}" in first
    # A changed book's page has a new ETag; an untouched one answers 304 to its old one.
    changed = {c["url"].removeprefix(sb.base_url) for c in changes}
    for path, tag in tags.items():
        status = get(sb.base_url, path, headers={"If-None-Match": tag}).status
        if path in changed:
            assert status in (200, 404), path
        elif path.startswith("catalogue/") and path.endswith("/index.html"):
            assert status == 304, path


def test_changes_are_validated_and_declarative(sb: RunningSandbox) -> None:
    for bad in ({"prices": 1}, {"price": -1}, {"price": 600, "remove": 600}, {"add": True},
                {"seed": "x"}):
        with pytest.raises(SandboxError, match="--changes"):
            sb.configure(changes=bad)
    sb.configure(changes={"price": 3, "seed": 1})
    assert len(_changes(sb)) == 3
    sb.configure(changes={"price": 3, "seed": 1})  # the same catalogue: no change
    assert len(_changes(sb)) == 3
    sb.configure(changes={})  # back to the startup catalogue: the same 3 books change back
    back = _changes(sb)
    assert len(back) == 3 and all(c["change"] == "changed" for c in back)
