"""Every page served under /web carries the same navigation, in the same order, marking itself as current:
a page added to one menu and forgotten in another is a page a visitor cannot reach from there."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from consent_ledger.api.app import WEB_DIR

PAGES = {
    "index.html": "./",
    "brand.html": "brand.html",
    "auditor.html": "auditor.html",
    "stewardship.html": "stewardship.html",
    "compare.html": "compare.html",
}


class _Nav(HTMLParser):
    """The links of the <nav aria-label="Pages"> element: (href, text, is current)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, bool]] = []
        self._depth = 0
        self._link: tuple[str, bool] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "nav" and found.get("aria-label") == "Pages":
            self._depth = 1
        elif tag == "nav" and self._depth:
            self._depth += 1
        elif tag == "a" and self._depth:
            self._link = (found.get("href") or "", found.get("aria-current") == "page")
            self._text = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav" and self._depth:
            self._depth -= 1
        elif tag == "a" and self._link is not None:
            href, current = self._link
            self.links.append((href, " ".join(self._text.split()), current))
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._text += data


def _nav(page: str) -> list[tuple[str, str, bool]]:
    parser = _Nav()
    parser.feed((WEB_DIR / page).read_text(encoding="utf-8"))
    return parser.links


def test_every_page_is_listed() -> None:
    served = {p.name for p in WEB_DIR.glob("*.html")}
    assert served == set(PAGES)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_menu_is_the_same_everywhere_and_marks_its_own_page(page: str) -> None:
    links = _nav(page)
    reference = [(href, text) for href, text, _ in _nav("index.html")]
    assert [(href, text) for href, text, _ in links] == reference
    assert [href for href, _, current in links if current] == [PAGES[page]]
    assert [href for href, _ in reference] == list(PAGES.values())
