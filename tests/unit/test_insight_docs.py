"""The API docs' figures on choosing epsilon are OpenDP's own: every row of the table in INSIGHTS_DOC (noise
scale and 95% accuracy per epsilon, for sensitivities 2 and 4) and the worked examples are recomputed with
the function that fills `privacy.accuracy_95` in each answer, so the docs cannot drift from the noise."""

from __future__ import annotations

import re

import pytest

from consent_ledger.api.routes.brand import INSIGHTS_DOC
from consent_ledger.insights.noise import accuracy

ROW = re.compile(r"^\| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", re.MULTILINE)


def test_the_epsilon_table_is_what_opendp_computes() -> None:
    rows = ROW.findall(INSIGHTS_DOC)
    assert len(rows) >= 4
    for epsilon, scale2, within2, scale4, within4 in rows:
        eps = float(epsilon)
        assert float(scale2) == pytest.approx(2 / eps)
        assert float(scale4) == pytest.approx(4 / eps)
        assert float(within2) == round(accuracy(2 / eps), 1), epsilon
        assert float(within4) == round(accuracy(4 / eps), 1), epsilon


def test_the_worked_examples_hold() -> None:
    text = " ".join(INSIGHTS_DOC.split())
    assert "At epsilon 1 with one histogram (scale 2) a count is off by up to about 6" in text
    assert round(accuracy(2.0)) == 6
    assert "epsilon 0.75 is enough (± about 8.4)" in text
    assert round(accuracy(2 / 0.75), 1) == 8.4 <= 0.1 * 100
    assert "epsilon 4 (± about 1.8)" in text
    assert round(accuracy(2 / 4), 1) == 1.8 <= 0.1 * 20
    # the rule of thumb "about 3 x sensitivity / epsilon" is within 10% over the table's range
    for eps in (0.1, 0.25, 0.5, 0.75, 1.0):
        for sensitivity in (2, 4):
            assert accuracy(sensitivity / eps) == pytest.approx(3 * sensitivity / eps, rel=0.1)


def test_the_docs_say_what_suppressed_means() -> None:
    assert "**not zero**" in INSIGHTS_DOC
    assert "What the noise means for small groups" in INSIGHTS_DOC
    assert "Choosing epsilon" in INSIGHTS_DOC
