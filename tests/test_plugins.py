"""Plugins: a user module outside the package adds a loss, a constraint, a schedule, an optimizer, an
architecture and a generator hook, each with its own knob."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.core.knobs import KNOBS
from harness.metrics import METRICS
from tests.conftest import registries_restored, tiny_experiment
from tests.sweep_support import TINY_SWEEP, mlflow_runs, studies

EXAMPLE = Path(__file__).parent / "plugin_example" / "my_recipes.py"
PLUGIN_VARIANT = {"preset": "wgan_gp", "name": "lsgan", "train": {"loss": "least_squares", "constraint": "drift"}}
ARCH_VARIANT = {"preset": "wgan_gp", "name": "gated", "model": {"arch": "gated_mlp"}}


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The user's working directory with their module in it; the registries forget it afterwards."""
    shutil.copy(EXAMPLE, tmp_path / "my_recipes.py")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    with registries_restored():
        yield tmp_path
    sys.modules.pop("my_recipes", None)


def test_plugin_entries_and_knobs_validate_like_built_ins(user_dir: Path) -> None:
    exp = tiny_experiment(plugins=["my_recipes"], train={"ls_target": 2.0}, variants=[PLUGIN_VARIANT])
    assert exp.plugins == ("my_recipes",) and exp.train.ls_target == 2.0 and exp.train.drift_weight == 0.1
    assert KNOBS["drift_weight"].doc == "weight of E[D(real)^2]"
    with pytest.raises(ConfigError, match=r"^train.drift_weight: -1.0 is out of range; allowed: >= 0"):
        tiny_experiment(plugins=["my_recipes"], train={"drift_weight": -1.0}, variants=[PLUGIN_VARIANT])
    notices = tiny_experiment(plugins=["my_recipes"], sweep={"space": {"ls_target": {"choices": [1.0, 2.0]}}},
                        variants=["wgan_gp"]).notices  # a space knob no planned cell reads: not searched, and said
    assert notices == ("notice: sweep.space.ls_target applies to none of the planned cells (wgan_gp); it is not "
                       "searched",)


def test_a_plugin_schedule_validates_its_knob_and_drives_the_learning_rate(user_dir: Path) -> None:
    from harness.config.resolve import resolve_run
    from harness.train.trainer import train
    from tests.test_train_trainer import Recorder

    variant = {"preset": "wgan_gp", "name": "warm", "train": {"scheduler": "warmup"}}
    with pytest.raises(ConfigError, match=r"^train.warmup_steps: 0 is out of range; allowed: >= 1"):
        tiny_experiment(plugins=["my_recipes"], train={"warmup_steps": 0}, variants=[variant])
    notices = tiny_experiment(plugins=["my_recipes"], sweep={"space": {"warmup_steps": {"choices": [2, 4]}}},
                        variants=["wgan_gp"]).notices  # a space knob no planned cell reads: not searched, and said
    assert notices == ("notice: sweep.space.warmup_steps applies to none of the planned cells (wgan_gp); it is not "
                       "searched",)
    exp = tiny_experiment(plugins=["my_recipes"], variants=[variant],
                          train={"steps": 6, "log_every": 1, "lr": 1e-3, "warmup_steps": 4})
    recorder = Recorder()
    train(resolve_run(exp, "warm"), [recorder])
    # LambdaLR has applied factor(step) after `step` generator steps: (step + 1) / 4, capped at 1
    assert [round(scalars["lr_G"], 12) for _, scalars in recorder.logs] == [5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3, 1e-3]
    assert all(scalars["lr_D"] == scalars["lr_G"] for _, scalars in recorder.logs)


def test_a_plugin_optimizer_trains_both_networks_and_its_knob_applies_where_it_is_selected(user_dir: Path) -> None:
    import torch

    from harness.config.resolve import resolve_run
    from harness.config.knob_space import knob_applies
    from harness.train.trainer import build_state, train

    nesterov = {"preset": "wgan_gp", "name": "sgd", "train": {"optimizer": "nesterov", "momentum": 0.5}}
    exp = tiny_experiment(plugins=["my_recipes"], data={"name": "ring8"}, train={"steps": 2},
                          sweep={"space": {"momentum": {"low": 0.0, "high": 0.9}}}, variants=["wgan_gp", nesterov])
    sgd, adam = resolve_run(exp, "sgd"), resolve_run(exp, "wgan_gp")
    assert knob_applies(sgd, "momentum") and not knob_applies(adam, "momentum")
    assert not knob_applies(sgd, "beta1") and knob_applies(adam, "beta1")
    state = build_state(sgd)
    before = [p.detach().clone() for p in state.G.parameters()]
    train(sgd, [], state)
    for opt in (state.opt_G, state.opt_D):
        assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["momentum"] == 0.5
        assert opt.param_groups[0]["nesterov"] is True and opt.state  # it stepped: momentum buffers exist
    assert any(not torch.equal(a, b) for a, b in zip(before, state.G.parameters()))
    with pytest.raises(ConfigError, match=r"^train.momentum: 1.0 is out of range"):
        tiny_experiment(plugins=["my_recipes"], train={"momentum": 1.0}, variants=[nesterov])


def test_a_plugin_architecture_reads_its_model_knob_where_it_is_selected(user_dir: Path) -> None:
    import torch

    from harness.config.resolve import resolve_run
    from harness.config.knob_space import knob_applies
    from harness.models import build_models, parameter_count

    exp = tiny_experiment(plugins=["my_recipes"], data={"name": "ring8"}, model={"hidden": 8},
                          variants=["wgan_gp", ARCH_VARIANT])
    gated, plain = resolve_run(exp, "gated"), resolve_run(exp, "wgan_gp")
    assert gated.model.arch == "gated_mlp" and gated.model.hidden == 8
    assert knob_applies(gated, "model.hidden") and not knob_applies(plain, "model.hidden")
    G, D = build_models((2,), gated.model)
    assert parameter_count(G) == (gated.model.z_dim * 16 + 16) + (8 * 2 + 2)  # GLU halves 2 * hidden units
    assert D(G(torch.randn(3, gated.model.z_dim))).shape == (3,)
    with pytest.raises(ConfigError, match=r"^model.hidden: 1 is out of range; allowed: >= 2 and <= 1024"):
        tiny_experiment(plugins=["my_recipes"], data={"name": "ring8"}, model={"hidden": 1}, variants=[ARCH_VARIANT])
    notices = tiny_experiment(plugins=["my_recipes"], sweep={"space": {"model.hidden": {"choices": [8, 32]}}},
                        variants=["wgan_gp"]).notices  # a space knob no planned cell reads: not searched, and said
    assert notices == ("notice: sweep.space.model.hidden applies to none of the planned cells (wgan_gp); it is not "
                       "searched",)


def test_a_plugin_generator_hook_adds_orthogonal_regularization(user_dir: Path) -> None:
    import torch

    from harness.config.resolve import resolve_run
    from harness.recipes.generator_hooks import build_hooks

    exp = tiny_experiment(plugins=["my_recipes"], train={"ortho_weight": 0.25}, variants=["wgan_gp"])
    G = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    hooks = build_hooks(G, resolve_run(exp, "wgan_gp").train)
    term, named = hooks["orthogonal"].penalty(G, None, None)
    expected = 0.0
    for layer in (G[0], G[2]):  # float64 reference: squared off-diagonal entries of W W^T
        w = layer.weight.detach().double()
        gram = w @ w.T
        expected += float((gram.square().sum() - gram.diagonal().square().sum()))
    assert float(named["ortho"].detach()) == pytest.approx(expected, rel=1e-5)
    assert float(term.detach()) == pytest.approx(0.25 * expected, rel=1e-5)
    assert "orthogonal" not in build_hooks(G, resolve_run(tiny_experiment(plugins=["my_recipes"]), "wgan_gp").train)


def test_a_plugin_metric_declared_as_the_docs_say_is_computed(user_dir: Path) -> None:
    """docs/extending.md and harness.plugins document `register_metric(name, direction=..., needs=(...))`."""
    from harness.config.resolve import resolve_run
    from harness.train.trainer import train

    exp = tiny_experiment(plugins=["my_recipes"], data={"name": "ring8"}, eval={"metrics": ["w1", "radius_error"]},
                          variants=["wgan_gp"])
    assert METRICS.get("radius_error").needs == frozenset({"points"}) and not METRICS.get("radius_error").default
    result = train(resolve_run(exp, "wgan_gp"))
    assert result.final_metrics["radius_error"] >= 0
    with pytest.raises(ConfigError, match=r"^eval.metrics\[0\]: 'radius_error' needs points"):
        tiny_experiment(plugins=["my_recipes"], eval={"metrics": ["radius_error"]}, variants=["wgan_gp"])


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
    code = ("import pickle; from harness.config.resolve import load_plugins; "
            "from harness.recipes.losses import LOSSES; "
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
        "sweep": {"trials_per_variant": 2, "seeds": 1, "space": {
            "drift_weight": {"low": 0.01, "high": 1.0, "log": True}, "model.hidden": {"choices": [8, 32]}}},
        "variants": ["wgan_gp", PLUGIN_VARIANT, ARCH_VARIANT]}))
    assert sweep_main([str(config)]) == 0
    search = studies(user_dir)["e2e/lsgan"]
    assert len(search.trials) == 2 and all("drift_weight" in t.params for t in search.trials)  # searched
    assert all("drift_weight" not in t.params for t in studies(user_dir)["e2e/wgan_gp"].trials)  # does not apply
    gated = studies(user_dir)["e2e/gated"].trials  # the architecture's knob, searched for its variant only
    assert gated[0].params["model.hidden"] == 32 and {t.params["model.hidden"] for t in gated} <= {8, 32}
    assert all("model.hidden" not in t.params for name in ("e2e/wgan_gp", "e2e/lsgan")
               for t in studies(user_dir)[name].trials)
    trained = [r for r in mlflow_runs(user_dir) if r.data.tags.get("harness.role") == "trial"]
    assert {r.data.params["model.hidden"] for r in trained if r.data.tags.get("harness.variant") == "gated"} <= {
        "8", "32"}
    trained = [r for r in trained if r.data.tags.get("harness.variant") != "gated"]
    lsgan = [r for r in trained if r.data.tags.get("harness.variant") == "lsgan"]
    assert len(lsgan) == 3 and all("drift" in r.data.metrics for r in lsgan)  # its diagnostic, by its name
    assert all("drift" not in r.data.metrics and "gp" in r.data.metrics for r in trained if r not in lsgan)
    assert report_main([str(config)]) == 0
    text = (user_dir / "reports" / "e2e" / "report.md").read_text(encoding="utf-8")
    assert "drift_weight" in text and "model.hidden" in text
