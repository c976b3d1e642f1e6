"""The analysis sections on hand-made frames: the analysis named by its method, a refusal that shows no
table, an ART table of ranks, and main effects that warn of cells without a value."""

from __future__ import annotations

import pandas as pd

from harness.report import design as d, design_anova as a, design_analysis_view as view, design_effects as e
from harness.report.render import Table, Text
from tests.test_report_design import hand_cells, seeds_of, two_by_three
from tests.test_report_design_anova import outlier_values


def test_the_method_is_named_in_words() -> None:
    refused = a.Anova(a.REFUSED, "value ~ C(f)", "no", pd.DataFrame(columns=a.TABLE_COLUMNS))
    assert view.method_name(refused) == "none"
    assert view.method_name(a.Anova(a.ART, "", "", refused.table)) == "ANOVA on aligned ranks (ART)"


def test_a_refused_analysis_says_why_and_shows_no_table() -> None:
    refused = a.Anova(a.REFUSED, "value ~ C(f)", "one seed per cell", pd.DataFrame(columns=a.TABLE_COLUMNS))
    blocks = view.anova_section(refused)
    assert not any(isinstance(b, Table) for b in blocks)
    assert blocks[-1].text == ("Model `value ~ C(f)` (statsmodels `ols`, `anova_lm(typ=2)`): **no analysis**, because "
                               "one seed per cell. No F or p is shown.")


def test_an_art_table_sums_squares_of_ranks() -> None:
    design = two_by_three()
    anova = a.analyse(seeds_of(outlier_values(), design), design)
    assert anova.method == a.ART
    blocks = view.anova_section(anova)
    table = next(b for b in blocks if isinstance(b, Table))
    assert "Sum of squares (ranks)" in table.display.columns
    assert "**ANOVA on aligned ranks (ART)**" in blocks[1].text and "from the ranked ANOVA of that effect" in blocks[1].text


def test_main_effects_warn_of_cells_without_a_value() -> None:
    design, cells = hand_cells()
    seeds = d.SeedFrame(pd.DataFrame(), "w1", "minimize")
    effects = e.main_effects(seeds_of({("a", "x"): [1.0], ("b", "x"): [4.0]}, design), design, "minimize")
    text = next(b for b in view.main_effects_section(effects, cells, seeds) if isinstance(b, Text)).text
    assert "**1 of 6 cells have no value**" in text
