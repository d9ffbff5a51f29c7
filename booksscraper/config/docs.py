"""docs/settings.md's tables of project settings, generated from ``declared``.

``python -m booksscraper.config.docs`` rewrites each table between its markers
(``<!-- settings: <section> -->`` and ``<!-- end settings -->``); tests/test_config.py
fails when the file is not current.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from booksscraper.config.declared import SETTINGS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
BEGIN = "<!-- settings: {section} -->"
END = "<!-- end settings -->"


def shown(value: Any) -> str:
    if value is None:
        return "unset"
    return f"`{value!r}`" if isinstance(value, (list, str)) and not value else (
        f"`{value}`" if isinstance(value, str) else f"`{value!r}`"
    )


def table(section: str) -> str:
    rows = ["| setting | default | meaning |", "| --- | --- | --- |"]
    rows += [
        f"| `{s.name}` | {shown(s.default)} | {s.meaning} |"
        for s in SETTINGS
        if s.section == section
    ]
    return "\n".join(rows)


def current(text: str) -> str:
    """``text`` with every marked table replaced by the one generated from the declaration."""
    out, rest = [], text
    while (start := rest.find("<!-- settings: ")) != -1:
        head_end = rest.index("-->", start) + 3
        section = rest[start + len("<!-- settings: "):head_end - 4].strip()
        end = rest.index(END, head_end)
        out.append(rest[:head_end] + "\n" + table(section) + "\n")
        rest = rest[end:]
    return "".join(out) + rest


def sections(text: str) -> list[str]:
    return [
        line[len("<!-- settings: "):-4].strip()
        for line in text.splitlines()
        if line.startswith("<!-- settings: ")
    ]


def main() -> None:
    text = PAGE.read_text(encoding="utf-8")
    PAGE.write_text(current(text), encoding="utf-8")
    print(f"{PAGE}: {len(sections(text))} tables", file=sys.stderr)


if __name__ == "__main__":
    main()
