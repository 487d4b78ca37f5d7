"""Numbers in tables line up (issue 16 point 5): on every page, each table cell that holds a
number, a duration or a percentage is right-aligned with tabular figures, as is its header, so
the digits of a column sit under one another."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.dashboard.demo_pages import (  # noqa: F401 (fixture)
    DESKTOP,
    every_page,
    school,
    signed_in_page,
)
from tests.support.browser import browser  # noqa: F401 (fixture)
from tests.support.platform import PlatformProcess

# What a browser shows of a page (this file's checks) does not depend on the store: one
# backend. test_pages.py reads the pages' figures against the API on both.
pytestmark = [pytest.mark.browser, pytest.mark.backends("sqlite")]

# For each body cell of a table on screen (a chart's data table for screen readers is not laid
# out): its text, whether it reads as a quantity (a number, a
# duration such as "1 h 12 min" or "45 s", a percentage, a ratio like "3/4"), and how it is set.
CELLS_JS = """() => {
  const quantity = new RegExp('^[−-]?[0-9][0-9,.]*( ?(h|min|s|%|XP|xp))?'
                              + '( [0-9][0-9,.]* ?(min|s))?$|^[0-9]+/[0-9]+$');
  const out = [];
  for (const table of document.querySelectorAll('main table:not(.sr-only)')) {
    const heads = [...table.querySelectorAll('thead th')];
    for (const row of table.querySelectorAll('tbody tr')) {
      [...row.children].forEach((cell, index) => {
        const text = cell.innerText.trim();
        // An id (a shortened runId can be all digits) is a link or code, never a quantity.
        if (!quantity.test(text) || cell.querySelector('a, code')) return;
        const style = getComputedStyle(cell);
        const head = heads[index];
        out.push({text: text, align: style.textAlign,
                  figures: style.fontVariantNumeric,
                  headAlign: head ? getComputedStyle(head).textAlign : 'right'});
      });
    }
  }
  return out;
}"""


def test_quantities_in_tables_are_right_aligned_in_tabular_figures(
        browser: Any, school: PlatformProcess) -> None:  # noqa: F811
    seen = 0
    with signed_in_page(browser, school, DESKTOP) as page:
        for path in every_page(page, school):
            page.goto(school.base_url + path)
            cells = page.evaluate(CELLS_JS)
            seen += len(cells)
            wrong = [cell for cell in cells if cell["align"] not in ("right", "end")
                     or "tabular-nums" not in cell["figures"]
                     or cell["headAlign"] not in ("right", "end")]
            assert wrong == [], (path, wrong[:5])
    assert seen >= 100, seen  # the demo school's tables are full of numbers
