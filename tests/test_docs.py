"""The README and docs/ match the code: links resolve, every setting and module is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in page.read_text(encoding="utf-8").splitlines()
            if line.startswith("#")}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_resolves(page: Path) -> None:
    for target, anchor in LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page.name}: broken link {target}"
        if anchor and path.suffix == ".md":
            assert anchor in anchors(path), f"{page.name}: no heading #{anchor} in {target}"


def test_every_documented_setting_is_in_the_reference() -> None:
    reference = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    missing = []
    for module in (REPO / "booksscraper").rglob("*.py"):
        for name in re.findall(r"^- ``([A-Z][A-Z0-9_]+)``", module.read_text(encoding="utf-8"),
                               re.M):
            if f"`{name}`" not in reference and name not in ("SCRAPYD_URL", "SCRAPYD_USERNAME"):
                missing.append(f"{name} ({module.relative_to(REPO)})")
    assert missing == []


def test_the_readme_is_short_and_its_layout_names_every_module() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 250
    layout = readme[readme.index("## Layout"):]
    unnamed = [str(m.relative_to(REPO)) for m in (REPO / "booksscraper").rglob("*.py")
               if m.name != "__init__.py" and m.name != "__main__.py"
               and m.stem not in layout and f"{m.parent.name}/" not in layout]
    assert unnamed == []
