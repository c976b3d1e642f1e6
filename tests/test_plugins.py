"""Plugins: a user module outside the package adds a loss and a constraint, each with its own knob."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from harness.constraints import CONSTRAINTS
from harness.errors import ConfigError
from harness.knobs import KNOBS
from harness.losses import LOSSES
from harness.schedules import SCHEDULES
from tests.conftest import tiny_experiment
from tests.sweep_support import TINY_SWEEP, mlflow_runs, studies

EXAMPLE = Path(__file__).parent / "plugin_example" / "my_recipes.py"
PLUGIN_VARIANT = {"preset": "wgan_gp", "name": "lsgan", "train": {"loss": "least_squares", "constraint": "drift"}}


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The user's working directory with their module in it; the registries forget it afterwards."""
    shutil.copy(EXAMPLE, tmp_path / "my_recipes.py")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("my_recipes", None)
    for registry, name in ((LOSSES, "least_squares"), (CONSTRAINTS, "drift"), (SCHEDULES, "warmup")):
        if name in registry:
            registry.remove(name)


def test_plugin_entries_and_knobs_validate_like_built_ins(user_dir: Path) -> None:
    exp = tiny_experiment(plugins=["my_recipes"], train={"ls_target": 2.0}, variants=[PLUGIN_VARIANT])
    assert exp.plugins == ("my_recipes",) and exp.train.ls_target == 2.0 and exp.train.drift_weight == 0.1
    assert KNOBS["drift_weight"].doc == "weight of E[D(real)^2]"
    with pytest.raises(ConfigError, match=r"^train.drift_weight: -1.0 is out of range; allowed: >= 0"):
        tiny_experiment(plugins=["my_recipes"], train={"drift_weight": -1.0}, variants=[PLUGIN_VARIANT])
    with pytest.raises(ConfigError, match=r"^sweep.space.ls_target: 'ls_target' applies to none of the variants"):
        tiny_experiment(plugins=["my_recipes"], sweep={"space": {"ls_target": {"choices": [1.0, 2.0]}}},
                        variants=["wgan_gp"])


def test_a_plugin_schedule_validates_its_knob_and_drives_the_learning_rate(user_dir: Path) -> None:
    from harness.config import resolve_run
    from harness.trainer import train
    from tests.test_trainer import Recorder

    variant = {"preset": "wgan_gp", "name": "warm", "train": {"scheduler": "warmup"}}
    with pytest.raises(ConfigError, match=r"^train.warmup_steps: 0 is out of range; allowed: >= 1"):
        tiny_experiment(plugins=["my_recipes"], train={"warmup_steps": 0}, variants=[variant])
    with pytest.raises(ConfigError, match=r"^sweep.space.warmup_steps: 'warmup_steps' applies to none of the variants"):
        tiny_experiment(plugins=["my_recipes"], sweep={"space": {"warmup_steps": {"choices": [2, 4]}}},
                        variants=["wgan_gp"])
    exp = tiny_experiment(plugins=["my_recipes"], variants=[variant],
                          train={"steps": 6, "log_every": 1, "lr": 1e-3, "warmup_steps": 4})
    recorder = Recorder()
    train(resolve_run(exp, "warm"), [recorder])
    # LambdaLR has applied factor(step) after `step` generator steps: (step + 1) / 4, capped at 1
    assert [round(scalars["lr_G"], 12) for _, scalars in recorder.logs] == [5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3, 1e-3]
    assert all(scalars["lr_D"] == scalars["lr_G"] for _, scalars in recorder.logs)


def test_a_missing_plugin_is_a_config_error_naming_the_item(user_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^plugins\[1\]: 'not_there' cannot be imported: No module named"):
        tiny_experiment(plugins=["my_recipes", "not_there"])
    with pytest.raises(ConfigError, match=r"^plugins: 'my_recipes' is a string; expected a list of a string"):
        tiny_experiment(plugins="my_recipes")


def test_a_fresh_process_registers_the_plugins_of_a_parsed_config(user_dir: Path) -> None:
    """A spawned sweep worker receives the parsed config (plugins as a tuple) and starts bare."""
    import pickle
    import subprocess

    exp = tiny_experiment(plugins=["my_recipes"], variants=[PLUGIN_VARIANT])
    (user_dir / "exp.pickle").write_bytes(pickle.dumps(exp))
    code = ("import pickle; from harness.config import load_plugins; from harness.losses import LOSSES; "
            "exp = pickle.load(open('exp.pickle', 'rb')); load_plugins(exp.plugins); "
            "print('least_squares' in LOSSES, exp.train.ls_target)")
    out = subprocess.run([sys.executable, "-c", code], cwd=user_dir, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "1.0"]


@pytest.mark.slow
def test_a_sweep_searches_the_plugin_knob_and_logs_its_diagnostic(user_dir: Path) -> None:
    from harness.report.__main__ import main as report_main
    from harness.sweep.__main__ import main as sweep_main
    from tests.conftest import deep_merge
    from tests.test_report_cli import write_yaml

    config = write_yaml(user_dir / "sweep.yaml", deep_merge(TINY_SWEEP, {
        "plugins": ["my_recipes"], "train": {"steps": 20, "eval_every": 10, "sample_every": 10},
        "sweep": {"trials_per_variant": 2, "seeds": 1, "space": {"drift_weight": {"low": 0.01, "high": 1.0,
                                                                                  "log": True}}},
        "variants": ["wgan_gp", PLUGIN_VARIANT]}))
    assert sweep_main([str(config)]) == 0
    search = studies(user_dir)["e2e/lsgan"]
    assert len(search.trials) == 2 and all("drift_weight" in t.params for t in search.trials)  # searched
    assert all("drift_weight" not in t.params for t in studies(user_dir)["e2e/wgan_gp"].trials)  # does not apply
    trained = [r for r in mlflow_runs(user_dir) if r.data.tags.get("harness.role") == "trial"]
    lsgan = [r for r in trained if r.data.tags.get("harness.variant") == "lsgan"]
    assert len(lsgan) == 3 and all("drift" in r.data.metrics for r in lsgan)  # its diagnostic, by its name
    assert all("drift" not in r.data.metrics and "gp" in r.data.metrics for r in trained if r not in lsgan)
    assert report_main([str(config)]) == 0
    text = (user_dir / "reports" / "e2e" / "report.md").read_text(encoding="utf-8")
    assert "drift_weight" in text
