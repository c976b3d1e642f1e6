"""The verdict per factor's scope, case by case: the search-budget clause and the equal-time clause."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd

from harness.report import budget, design as d, design_effects as e, design_verdict_view as view
from tests.test_report_design import hand_cells


def test_the_budget_clause_names_a_search_that_may_be_too_small() -> None:
    sweep = SimpleNamespace(variants=[SimpleNamespace(variant=c, budget=b) for c, b in
                                      (("a.x", 6), ("a.y", 6), ("b.x", None))])
    curves = [budget.budget_curve(values, "minimize").assign(variant=cell, trials=len(values)) for cell, values in
              (("a.x", [5.0, 4.0, 3.0, 2.0, 1.5, 1.0]), ("a.y", [1.0, 2.0]))]
    checks = SimpleNamespace(budget=pd.concat(curves, ignore_index=True))
    text = view.budget_text(SimpleNamespace(sweep=sweep), checks, ["a.x", "a.y", "b.x"], "minimize")
    assert text == ("Each cell's values are the best of its own search (6 trials per cell); the search may be too "
                    "small for a.x: the expected best still moved by more than 2% with the last trial; too few "
                    "complete search trials to judge a.y (n = 2): it takes 3.")
    own = SimpleNamespace(variants=[SimpleNamespace(variant="a.x", budget=0),
                                    SimpleNamespace(variant="b.x", budget=None)])
    assert view.budget_text(SimpleNamespace(sweep=own), checks, ["a.x", "b.x"], "minimize").startswith("No search")


def test_the_equal_time_clause_says_when_the_views_disagree() -> None:
    design, _ = hand_cells()
    at_time = pd.DataFrame({"variant": ["a.x", "a.y", "b.x", "b.y", "a.z"], "value": [3.0, 3.0, 1.0, 2.0, math.nan]})
    call = e.Call("recipe", e.BEST, "a", "b", None, None)
    seeds = d.SeedFrame(pd.DataFrame(), "w1", "minimize")
    text = view.equal_time_text(SimpleNamespace(at_time=at_time, seconds=2.5), design, seeds, call)
    assert text == ("At equal training time (T = 2.5 s, w1 interpolated at T) the views **disagree**: **b** leads with "
                    "1.5 (n = 2), a has 3 (n = 2); which matters depends on whether steps or training time is the "
                    "budget.")
    none = view.equal_time_text(SimpleNamespace(at_time=at_time.iloc[:0], seconds=math.nan), design, seeds, call)
    assert none.startswith("No equal-time view")


def test_no_level_is_compared_at_equal_time_when_some_runs_never_reached_t() -> None:
    """A level's mean at T over the runs that reached it would pool other cells (a 1-critic-step cell only)
    than its mean at equal steps: the clause says which cells fall short and compares nothing."""
    design, _ = hand_cells()
    finished = pd.DataFrame({"cell": ["a.x", "a.x", "a.y", "b.x", "b.y", "b.y"], "value": [1.0] * 6})
    at_time = pd.DataFrame({"variant": ["a.x", "a.x", "b.x", "b.y"], "value": [3.0, 3.0, 1.0, 2.0]})
    call = e.Call("recipe", e.BEST, "a", "b", None, None)
    text = view.equal_time_text(SimpleNamespace(at_time=at_time, seconds=2.5), design,
                                d.SeedFrame(finished, "w1", "minimize"), call)
    assert text == ("At equal training time (T = 2.5 s, w1 interpolated at T) the levels are not compared: not every "
                    "finished run has a value at T (a.y (0 of 1), b.y (1 of 2)), so a level's mean there would pool "
                    "other cells than its mean at equal steps.")
    whole = pd.DataFrame({"variant": finished.cell, "value": [3.0, 3.0, 3.0, 1.0, 2.0, 2.0]})
    assert "leads" in view.equal_time_text(SimpleNamespace(at_time=whole, seconds=2.5), design,
                                           d.SeedFrame(finished, "w1", "minimize"), call)
