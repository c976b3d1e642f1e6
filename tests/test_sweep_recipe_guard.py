"""One study, one recipe: what counts as the recipe, the one-line refusal, and the checks on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from harness.stores import keys
from harness.config.recipe import MEASUREMENT
from harness.config.resolve import resolve_run
from harness.core.errors import ConfigError
from harness.stores.schema import read_contents
from harness.sweep.preflight import check_stored_recipes
from harness.sweep.recipe_guard import recipe, recipe_mismatch, recipe_text, record_or_check, stored_recipe
from harness.sweep.studies import make_storage, open_studies
from tests.conftest import tiny_experiment

VARIANTS = ["vanilla", "wgan_gp"]


def test_the_recipe_holds_what_changes_results_and_only_the_knobs_that_apply() -> None:
    exp = tiny_experiment(variants=VARIANTS)
    gp, vanilla = recipe(resolve_run(exp, "wgan_gp")), recipe(resolve_run(exp, "vanilla"))
    assert gp["train.steps"] == 6 and gp["train.lambda_gp"] == 10.0 and gp["sweep.objective"] == "fd_classifier"
    assert gp["seed"] == 0 and gp["model.arch"] == "dcgan" and gp["data.name"] == "digits"
    assert "train.lambda_gp" not in vanilla and "train.clip_value" not in gp  # knobs that do not apply
    assert vanilla["train.loss"] == "bce" and vanilla["train.scheduler"] == "none"  # fields always count
    for plumbing in ("train.device", "train.checkpoint_every", "eval.metrics", "eval.cache_dir", "data.root"):
        assert plumbing not in gp
    # What the runs recorded, and when the pruner looked (issue 27: the report must say what ran)
    assert (gp["train.eval_every"], gp["train.sample_every"], gp["train.log_every"]) == (6, 6, 3)


def test_a_changed_key_is_one_config_error_naming_it_both_values_and_a_new_name() -> None:
    stored = recipe_text(resolve_run(tiny_experiment(variants=VARIANTS), "wgan_gp"))
    same = tiny_experiment(variants=VARIANTS, sweep={"trials_per_variant": 9}, train={"checkpoint_every": 3})
    assert recipe_mismatch(same, "wgan_gp", stored, "sqlite:///runs/optuna.db") is None  # budgets and plumbing
    denser = tiny_experiment(variants=VARIANTS, train={"eval_every": 3})  # curves of one study are measured alike
    assert recipe_mismatch(denser, "wgan_gp", stored, "x").path == "train.eval_every"
    older = json.dumps({k: v for k, v in json.loads(stored).items() if k not in MEASUREMENT})
    assert recipe_mismatch(denser, "wgan_gp", older, "x") is None  # a record from before they were stored
    longer = tiny_experiment(variants=VARIANTS, train={"steps": 24})
    error = recipe_mismatch(longer, "wgan_gp", stored, "sqlite:///runs/optuna.db")
    assert isinstance(error, ConfigError) and error.path == "train.steps"
    assert str(error) == ("train.steps: 24 differs from 6, with which experiment 'tiny' (variant wgan_gp) already "
                          "ran in sqlite:///runs/optuna.db; a study holds one recipe: give this one a new name "
                          "(--set name=tiny-2) or another sweep.storage")
    two = tiny_experiment(variants=VARIANTS, train={"steps": 24, "lambda_gp": 5.0})
    error = recipe_mismatch(two, "wgan_gp", stored, "x")
    assert error is not None and error.path == "train.lambda_gp" and "(and 1 more key(s))" in str(error)


def test_a_store_records_each_recipe_once_and_refuses_another(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    exp = tiny_experiment(variants=VARIANTS)
    check_stored_recipes(exp, url)  # a first run: no store, and the check creates none
    assert not (tmp_path / "optuna.db").exists()
    storage = make_storage(url, exp)
    assert "studies" in read_contents(url).tables
    for variant in VARIANTS:
        record_or_check(exp, open_studies(exp, storage, variant).search, resolve_run(exp, variant), url)
    search = optuna.load_study(study_name="tiny/wgan_gp", storage=url)
    assert search.user_attrs[keys.RECIPE] == recipe_text(resolve_run(exp, "wgan_gp"))
    check_stored_recipes(tiny_experiment(variants=VARIANTS, sweep={"seeds": 5}), url)  # a top-up resumes
    longer = tiny_experiment(variants=VARIANTS, train={"steps": 24})
    with pytest.raises(ConfigError, match=r"^train.steps: 24 differs from 6, with which experiment 'tiny' "
                                          r"\(variant vanilla\)"):
        check_stored_recipes(longer, url)
    with pytest.raises(ConfigError, match=r"^train.steps: 24 differs from 6"):  # two sweeps racing past preflight
        record_or_check(longer, open_studies(longer, storage, "wgan_gp").search, resolve_run(longer, "wgan_gp"), url)
    check_stored_recipes(tiny_experiment(name="tiny-2", variants=VARIANTS, train={"steps": 24}), url)  # new name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["optuna.db"]  # reading it made no lock file beside it


def test_the_guard_covers_a_plugins_knobs_where_they_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin knob that applies is part of the recipe; one that applies nowhere in the variant is not."""
    import shutil
    import sys

    from tests.conftest import registries_restored

    shutil.copy(Path(__file__).parent / "plugin_example" / "my_recipes.py", tmp_path / "my_recipes.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    lsgan = [{"preset": "wgan_gp", "name": "lsgan", "train": {"loss": "least_squares"}}]
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    with registries_restored():  # the plugin's entries are forgotten afterwards, whatever it registers
        try:
            exp = tiny_experiment(plugins=["my_recipes"], variants=lsgan)
            storage = make_storage(url, exp)
            record_or_check(exp, open_studies(exp, storage, "lsgan").search, resolve_run(exp, "lsgan"), url)
            assert json.loads(stored_recipe(storage, "tiny/lsgan"))["train.ls_target"] == 1.0
            check_stored_recipes(tiny_experiment(plugins=["my_recipes"], variants=lsgan, train={"drift_weight": 0.5}),
                                 url)  # drift is not lsgan's constraint: its knob changes nothing
            with pytest.raises(ConfigError, match=r"^train.ls_target: 2.0 differs from 1.0"):
                check_stored_recipes(tiny_experiment(plugins=["my_recipes"], variants=lsgan,
                                                     train={"ls_target": 2.0}), url)
        finally:
            sys.modules.pop("my_recipes", None)


def test_a_recipe_stored_before_the_optimizer_axis_resumes_as_adam_and_refuses_rmsprop() -> None:
    """Stores written before `train.optimizer` existed hold no such key; every one of their runs used Adam."""
    old = recipe(resolve_run(tiny_experiment(variants=VARIANTS), "wgan_gp"))
    del old["train.optimizer"]
    stored = json.dumps(old, sort_keys=True)
    assert recipe_mismatch(tiny_experiment(variants=VARIANTS), "wgan_gp", stored, "x") is None
    rmsprop = tiny_experiment(variants=VARIANTS, train={"optimizer": "rmsprop"})
    error = recipe_mismatch(rmsprop, "wgan_gp", stored, "x")
    assert error is not None and error.path == "train.optimizer"  # the cause is named, not its consequences
    assert str(error).startswith("train.optimizer: 'rmsprop' differs from 'adam'")
    assert "(and 3 more key(s))" in str(error)  # Adam's betas no longer apply, RMSProp's alpha does


def test_a_cell_searched_once_is_not_resumed_without_a_search_nor_the_reverse(tmp_path: Path) -> None:
    """Its confirmation seeds re-train the search's best values, or the cell's own: one study, one meaning."""
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    searched = tiny_experiment(variants=["wgan_gp"], sweep={"trials_per_variant": 2})
    studies = open_studies(searched, make_storage(url, searched), "wgan_gp")
    studies.search.set_user_attr(keys.BUDGET, 2)
    check_stored_recipes(tiny_experiment(variants=["wgan_gp"], sweep={"trials_per_variant": 5}), url)  # a top-up
    plain = tiny_experiment(variants=["wgan_gp"], sweep={"trials_per_variant": 0})
    with pytest.raises(ConfigError, match=r"^sweep.trials_per_variant: 0: experiment 'tiny' \(cell wgan_gp\) already "
                                          r"ran a search of 2 trials in sqlite:///.*; allowed here: at least 1, or a new "
                                          r"name \(--set name=tiny-2\)"):
        check_stored_recipes(plain, url)
    with pytest.raises(ConfigError, match=r"^sweep.trials_per_variant: 0: "):  # a sweep racing past preflight
        record_or_check(plain, studies.search, plain.run("wgan_gp"), url)
    studies.search.set_user_attr(keys.BUDGET, 0)
    with pytest.raises(ConfigError, match=r"^sweep.trials_per_variant: 2: .* already ran without a search .*; "
                                          r"allowed here: 0,"):
        check_stored_recipes(searched, url)
    check_stored_recipes(plain, url)
