"""The experiment schema: strict loading, `--set` overrides, presets, precedence, cross-section rules."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest
import yaml

from harness.config.resolve import (DataConfig, ModelConfig, TrainConfig, config_hash, load_experiment,
                                    parse_experiment, resolve_run)
from harness.data import DATASETS
from harness.core.errors import ConfigError, UserError
from harness.core.strict import replace
from tests.bad_input_rows import ALIAS_BOMB, with_raw_yaml
from tests.conftest import TINY, deep_merge, tiny_experiment, tiny_run


def write(tmp_path: Path, data: dict | str, name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def config_error(raw: dict) -> str:
    """The message parse_experiment raises for TINY merged with `raw`; always one line."""
    with pytest.raises(ConfigError) as info:
        tiny_experiment(**raw)
    message = str(info.value)
    assert "\n" not in message and not message.startswith(" ")
    return message


# --- loading a file ---------------------------------------------------------------------------------


def test_file_with_unquoted_exponent_loads_as_float(tmp_path: Path) -> None:
    text = yaml.safe_dump(TINY) + "model: {z_dim: 8}\n"
    path = write(tmp_path, text.replace("train:\n", "train:\n  lr: 1e-4\n  lambda_gp: 5e0\n"))
    exp = load_experiment(path)
    assert exp.train.lr == 1e-4 and type(exp.train.lr) is float
    assert exp.train.lambda_gp == 5.0 and exp.model.z_dim == 8 and exp.train.steps == 6


def test_quoted_exponent_fails_with_a_hint(tmp_path: Path) -> None:
    text = yaml.safe_dump(TINY).replace("train:\n", "train:\n  lr: '1e-4'\n")
    with pytest.raises(ConfigError) as info:
        load_experiment(write(tmp_path, text))
    assert str(info.value) == "train.lr: '1e-4' is a string; expected a number (it is quoted: drop the quotes)"


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        load_experiment(tmp_path / "nope.yaml")
    assert str(info.value) == f"cannot read config {str(tmp_path / 'nope.yaml')!r}: No such file or directory"


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "3\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert str(info.value) == f"{path}: the top level must be a mapping of sections"


def test_empty_file_asks_for_the_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_experiment(write(tmp_path, ""))
    assert str(info.value) == "name: is required"


def test_file_that_is_not_utf8_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(UserError):
        load_experiment(path)


def test_duplicate_key_in_a_file_is_rejected(tmp_path: Path) -> None:
    text = yaml.safe_dump(TINY).replace("train:\n", "train:\n  lr: 0.1\n  lr: 0.2\n")
    with pytest.raises(ConfigError, match="duplicate key 'lr'"):
        load_experiment(write(tmp_path, text))


# --- only a bounded regular file is read; every refusal is one line naming it (issue 26) -------------


def read_error(path: Path | str) -> str:
    with pytest.raises(UserError) as info:
        load_experiment(path)
    assert "\n" not in str(info.value)
    return str(info.value)


@pytest.mark.timeout(30)  # the old reader waited forever for a writer
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    assert read_error(tmp_path / "pipe.yaml") == (f"cannot read config {str(tmp_path / 'pipe.yaml')!r}: it is a "
                                                  "named pipe (FIFO), not a regular file")


def test_a_device_is_refused_without_reading_it() -> None:
    assert read_error("/dev/zero") == "cannot read config '/dev/zero': it is a device, not a regular file"


def test_a_folder_is_refused(tmp_path: Path) -> None:
    assert read_error(tmp_path) == f"cannot read config {str(tmp_path)!r}: it is a folder, not a regular file"


def test_a_config_over_one_mib_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, yaml.safe_dump(TINY))
    assert load_experiment(path).name == "tiny"
    path.write_text(yaml.safe_dump(TINY) + "#" * (1 << 20) + "\n")  # valid YAML: the size alone is refused
    assert read_error(path) == (f"cannot read config {str(path)!r}: it holds over 1048576 bytes; allowed: at most "
                                "1048576 (1 MiB)")


def test_a_nul_byte_in_the_config_path_is_refused() -> None:
    assert read_error("cfg\x00.yaml") == "cannot read config 'cfg\\x00.yaml': the path contains a NUL character"


@pytest.mark.parametrize("section, key", [("data", "root"), ("eval", "cache_dir"), ("sweep", "storage"),
                                          ("tracking", "uri"), ("data", "name")])
def test_a_nul_byte_in_a_path_or_name_is_refused_naming_the_key(section: str, key: str) -> None:
    value = "sqlite:///runs/x\x00.db" if section in ("sweep", "tracking") else "runs\x00x"
    assert config_error({section: {key: value}}) == f"{section}.{key}: {value!r} contains a NUL character"


def test_an_alias_bomb_in_a_file_is_refused_naming_the_file_and_line(tmp_path: Path) -> None:
    text = with_raw_yaml("train", "steps", ALIAS_BOMB)
    path = write(tmp_path, text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "&a" in row)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: line {line} column \d+: alias \*a is not"):
        load_experiment(path)


@pytest.mark.parametrize("raw, message", [
    ({"train": {"steps": 10**30}}, "train.steps: 1000000000000000000000000000000 is out of range; allowed: >= 1 "
                                   "and <= 100000000"),
    ({"sweep": {"heartbeat_seconds": 10**12}}, "sweep.heartbeat_seconds: 1000000000000 is out of range; allowed: "
                                               ">= 1 and <= 3600"),
    ({"train": {"checkpoint_every_seconds": 1e9}}, "train.checkpoint_every_seconds: 1000000000.0 is out of range; "
                                                   "allowed: >= 0 and <= 86400"),
    ({"train": {"g_ema_start": 2**63}}, "train.g_ema_start: 9223372036854775808 is out of range; allowed: >= 0 and "
                                        "<= 100000000"),
    ({"train": {"lambda_gp": 1e300}}, "train.lambda_gp: 1e+300 is out of range; allowed: >= 0 and <= 3.4e+38"),
    ({"sweep": {"heartbeat_seconds": 60, "grace_seconds": 60}}, "sweep.grace_seconds: 60 is not above "
                                                                "sweep.heartbeat_seconds (60)"),
])
def test_counts_and_durations_have_a_maximum(raw: dict, message: str) -> None:
    assert config_error(raw).startswith(message)


def test_a_config_with_only_a_name_is_valid() -> None:
    exp = parse_experiment({"name": "minimal"})
    assert exp.data.name == "digits" and [v.name for v in exp.variants] == [
        "vanilla", "wgan_clip", "wgan_gp", "wgan_gp_sched"]


# --- errors name the dotted path, the bad value and what is allowed ----------------------------------


@pytest.mark.parametrize("raw, message", [
    ({"trian": {}}, "trian: unknown key (did you mean 'train'?); allowed: name, seed, data, model, train, eval, "
                    "sweep, tracking, plugins, factors, design, variants"),
    ({"train": {"stpes": 5}}, "train.stpes: unknown key (did you mean 'steps'?)"),
    ({"data": {"nmae": "ring8"}}, "data.nmae: unknown key (did you mean 'name'?)"),
    ({"train": {"steps": "50"}}, "train.steps: '50' is a string; expected an integer (it is quoted: drop the quotes)"),
    ({"train": {"steps": 5.0}}, "train.steps: 5.0 is a float; expected an integer"),
    ({"train": {"batch_size": True}}, "train.batch_size: True is a boolean; expected an integer"),
    ({"data": {"download": "no"}}, "data.download: 'no' is a string; expected a boolean"),
    ({"seed": "0"}, "seed: '0' is a string; expected an integer (it is quoted: drop the quotes)"),
    ({"train": {"lr": 0}}, "train.lr: 0.0 is out of range; allowed: > 0 and <= 1"),
    ({"train": {"lr": 2}}, "train.lr: 2.0 is out of range; allowed: > 0 and <= 1"),
    ({"train": {"beta1": 1.0}}, "train.beta1: 1.0 is out of range; allowed: >= 0 and < 1"),
    ({"train": {"beta2": -0.1}}, "train.beta2: -0.1 is out of range; allowed: >= 0 and < 1"),
    ({"train": {"batch_size": 1}}, "train.batch_size: 1 is out of range; allowed: >= 2 and <= 65536"),
    ({"train": {"n_critic": 0}}, "train.n_critic: 0 is out of range; allowed: >= 1 and <= 100"),
    ({"train": {"steps": 0}}, "train.steps: 0 is out of range; allowed: >= 1"),
    ({"train": {"lambda_gp": -1}}, "train.lambda_gp: -1.0 is out of range; allowed: >= 0"),
    ({"train": {"clip_value": 0}}, "train.clip_value: 0.0 is out of range; allowed: > 0"),
    ({"model": {"z_dim": 0}}, "model.z_dim: 0 is out of range; allowed: >= 1 and <= 4096"),
    ({"train": {"device": "gpu"}}, "train.device: 'gpu' is not one of: auto, cpu, cuda"),
    ({"train": {"scheduler": "step"}}, "train.scheduler: 'step' is not one of: none, linear, cosine, plateau"),
    ({"model": {"arch": "vit"}}, "model.arch: 'vit' is not one of: auto, mlp, dcgan, "),
    ({"name": "my run"}, "name: 'my run' must be letters, digits, '_', '.', '-'"),
])
def test_bad_values(raw: dict, message: str) -> None:
    assert config_error(raw).startswith(message)


def test_unknown_dataset_lists_every_dataset() -> None:
    message = config_error({"data": {"name": "cifar100"}})
    assert message.startswith("data.name: 'cifar100' is not one of: ")
    assert sorted(message.split(": ")[-1].split(", ")) == sorted(DATASETS.names())


@pytest.mark.parametrize("variants, message", [
    (["wgan_gpp"], "variants[0].preset: 'wgan_gpp' is not one of: vanilla, wgan_clip, wgan_gp, wgan_gp_sched"),
    ([], "variants: [] must be a non-empty list of preset names or mappings"),
    ("wgan_gp", "variants: 'wgan_gp' must be a non-empty list of preset names or mappings"),
    (["wgan_gp", 3], "variants[1]: 3 must be a preset name or a mapping with `preset:`"),
    (["wgan_gp", "wgan_gp"], "variants[1]: 'wgan_gp' appears twice; give one a `name:`"),
    ([{"preset": "wgan_gp", "trian": {}}], "variants[0].trian: unknown key (did you mean 'train'?); "
                                           "allowed: preset, name, model, train"),
    ([{"preset": "wgan_gp", "train": {"lrr": 1}}], "variants[0].train.lrr: unknown key (did you mean 'lr'?)"),
    ([{"preset": "wgan_gp", "train": {"lr": "1e-3"}}], "variants[0].train.lr: '1e-3' is a string; expected a "
                                                       "number (it is quoted: drop the quotes)"),
    ([{"preset": "wgan_gp", "train": {"n_critic": 0}}], "variants[0].train.n_critic: 0 is out of range"),
    ([{"preset": "wgan_gp", "name": "a b"}], "variants[0].name: 'a b' must be letters, digits, '_', '.', '-'"),
    ([{"preset": "wgan_gp", "train": 5}], "variants[0].train: 5 must be a mapping"),
])
def test_bad_variants(variants: object, message: str) -> None:
    assert config_error({"variants": variants}).startswith(message)


def test_falsy_non_mapping_variant_override_is_rejected() -> None:
    config_error({"variants": [{"preset": "wgan_gp", "train": []}]})


def test_seed_torch_cannot_use_is_rejected_at_load() -> None:
    config_error({"seed": 2**64})


# --- overrides from the command line -------------------------------------------------------------------


def test_set_overrides_are_parsed_as_yaml_and_validated(tmp_path: Path) -> None:
    path = write(tmp_path, TINY)
    exp = load_experiment(path, ["train.steps=50", "variants=[wgan_gp, {preset: vanilla, name: v2}]",
                                 "train.lr=3e-4", "data.name=ring8", "model.width=8"])
    assert exp.train.steps == 50 and exp.train.lr == 3e-4 and exp.data.name == "ring8" and exp.model.width == 8
    assert [(v.name, v.preset) for v in exp.variants] == [("wgan_gp", "wgan_gp"), ("v2", "vanilla")]


@pytest.mark.parametrize("override, message", [
    ("train.lr=0", "train.lr: 0.0 is out of range; allowed: > 0 and <= 1"),
    ("train.lr='1e-4'", "train.lr: '1e-4' is a string; expected a number (it is quoted: drop the quotes)"),
    ("train.stepz=5", "train.stepz: unknown key (did you mean 'steps'?)"),
    ("variants=[nope]", "variants[0].preset: 'nope' is not one of: vanilla"),
    ("train.steps", "--set: 'train.steps' is not of the form key.path=value"),
])
def test_bad_overrides_fail_like_the_file(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_experiment(write(tmp_path, TINY), [override])
    assert str(info.value).startswith(message)


# --- presets and precedence -----------------------------------------------------------------------------


@pytest.mark.parametrize("variant, axes", [
    ("vanilla", ("bce", "none", "none", 1)),
    ("wgan_clip", ("wasserstein", "clip", "none", 4)),
    ("wgan_gp", ("wasserstein", "gp", "none", 4)),
    ("wgan_gp_sched", ("wasserstein", "gp", "linear", 4)),
])
def test_presets_set_the_three_axes(variant: str, axes: tuple) -> None:
    train = tiny_run(variant, train={"n_critic": 4}).train
    assert (train.loss, train.constraint, train.scheduler, train.n_critic) == axes


def test_precedence_defaults_yaml_preset_variant_overrides_trial_params() -> None:
    exp = tiny_experiment(
        data={"name": "ring8"},
        train={"n_critic": 4, "lr": 3e-4},
        variants=["vanilla", {"preset": "vanilla", "name": "v2", "train": {"n_critic": 2, "lr": 1e-3}},
                  {"preset": "wgan_gp", "name": "gp", "model": {"width": 8}}],
    )
    schema = TrainConfig()
    vanilla, v2, gp = (resolve_run(exp, name) for name in ("vanilla", "v2", "gp"))
    assert vanilla.train.beta2 == schema.beta2 == 0.9  # schema default
    assert vanilla.train.lr == 3e-4 and gp.train.n_critic == 4  # YAML beats the schema
    assert vanilla.train.n_critic == 1 and vanilla.train.scheduler == "none"  # the preset beats the YAML
    assert v2.train.n_critic == 2 and v2.train.lr == 1e-3  # the variant's overrides beat the preset
    assert gp.model.width == 8 and vanilla.model.width == ModelConfig().width
    trial = resolve_run(exp, "v2", params={"n_critic": 7, "lr": 5e-4}, seed=11)
    assert (trial.train.n_critic, trial.train.lr, trial.seed) == (7, 5e-4, 11)  # trial params beat everything
    assert resolve_run(exp, "v2").seed == exp.seed == 0


def test_trial_params_are_validated() -> None:
    exp = tiny_experiment()
    with pytest.raises(ConfigError, match=r"^params.lr: -1.0 is out of range"):
        resolve_run(exp, "wgan_gp", params={"lr": -1.0})
    with pytest.raises(ConfigError, match=r"^params.lamda_gp: unknown key \(did you mean 'lambda_gp'\?\)"):
        resolve_run(exp, "wgan_gp", params={"lamda_gp": 1.0})


def test_unknown_variant_lists_the_configured_ones() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_run(tiny_experiment(variants=["vanilla", "wgan_gp"]), "wgan_clip")
    assert str(info.value) == "--variant: 'wgan_clip' is not one of: vanilla, wgan_gp"


# --- `auto` resolution and rules that span sections ------------------------------------------------------


@pytest.mark.parametrize("data, arch, norm, objective", [
    ({"name": "ring8"}, "mlp", "none", "w1"),
    ({"name": "swissroll"}, "mlp", "none", "w1"),
    ({"name": "digits"}, "dcgan", "layer", "fd_classifier"),
    ({"name": "mnist"}, "dcgan", "layer", "fd_classifier"),
])
def test_auto_resolves_arch_critic_norm_and_objective(data: dict, arch: str, norm: str, objective: str) -> None:
    run = resolve_run(tiny_experiment(data=data), "wgan_gp")
    assert (run.model.arch, run.model.critic_norm, run.objective) == (arch, norm, objective)
    assert objective in run.eval.metrics


def test_batch_norm_critic_is_refused_with_the_gradient_penalty_only() -> None:
    exp = tiny_experiment(data={"name": "digits"}, model={"critic_norm": "batch"}, variants=["vanilla", "wgan_clip"])
    assert resolve_run(exp, "vanilla").model.critic_norm == "batch"
    message = config_error({"data": {"name": "digits"}, "model": {"critic_norm": "batch"},
                            "variants": ["vanilla", "wgan_gp"]})
    assert message.startswith("model.critic_norm: 'batch' is not allowed with train.constraint 'gp'")
    assert message.endswith("allowed: none, layer [variants[1], variant wgan_gp]")


@pytest.mark.parametrize("raw, message", [
    ({"data": {"name": "ring8", "image_size": 16}}, "data.image_size: 16: 'ring8' is a 2-D toy, not images; "
                                                    "allowed: null"),
    ({"data": {"name": "digits", "image_size": 12}}, "data.image_size: 12 is not supported by dcgan; allowed: "
                                                     "8, 14, 16, 28, 32, 56, 64, 112, 128"),
    ({"data": {"name": "digits"}, "model": {"arch": "mlp"}}, "model.arch: 'mlp' models points but data.name "
                                                             "'digits' is images; allowed: auto, dcgan"),
    ({"data": {"name": "ring8"}, "model": {"arch": "dcgan"}}, "model.arch: 'dcgan' models images but data.name "
                                                              "'ring8' is points; allowed: auto, mlp"),
    ({"data": {"name": "ring8"}, "eval": {"metrics": ["fd_classifier"]}},
     "eval.metrics[0]: 'fd_classifier' needs images and labels, which data.name 'ring8' lacks; allowed: "),
    ({"data": {"name": "swissroll"}, "sweep": {"objective": "modes"}},
     "sweep.objective: 'modes' needs modes, which data.name 'swissroll' lacks; allowed: w1"),
    ({"data": {"name": "digits"}, "sweep": {"objective": "w1"}},
     "sweep.objective: 'w1' needs points, which data.name 'digits' lacks; allowed: "),
    ({"data": {"name": "ring8"}, "eval": {"classifier_min_accuracy": 0.9}},
     "eval.classifier_min_accuracy: 0.9: data.name 'ring8' has no labels, so no evaluation classifier; allowed: null"),
    ({"data": {"name": "digits", "channels": 3}}, "data.channels: 3 does not fit data.name 'digits'; allowed: null, 1"),
    ({"data": {"name": "digits", "channels": 2}}, "data.channels: 2 is not one of: 1, 3"),
    ({"eval": {"classifier_min_accuracy": 1.5}}, "eval.classifier_min_accuracy: 1.5 is out of range"),
    ({"data": {"image_size": 3}}, "data.image_size: 3 is out of range; allowed: >= 4 and <= 512"),
])
def test_cross_section_rules(raw: dict, message: str) -> None:
    assert config_error(raw).startswith(message)


def test_resolved_run_has_no_auto_left() -> None:
    for variant in ("vanilla", "wgan_gp"):
        for data in ("ring8", "digits"):
            run = resolve_run(tiny_experiment(data={"name": data}), variant)
            assert run.model.arch != "auto" and run.model.critic_norm != "auto" and run.objective
            assert isinstance(run.data, DataConfig) and run.eval.metrics


def test_config_hash_is_stable_and_sees_every_knob() -> None:
    run = tiny_run("wgan_gp")
    assert config_hash(run) == config_hash(tiny_run("wgan_gp"))
    assert len(config_hash(run)) == 12
    changed = dataclasses.replace(run, train=replace(run.train, {"lambda_gp": 5.0}))
    assert config_hash(changed) != config_hash(run)
    assert config_hash(dataclasses.replace(run, seed=1)) != config_hash(run)


def test_every_issue_key_is_in_the_schema() -> None:
    keys = {"name", "seed", "data.name", "data.root", "data.download", "model.arch", "model.z_dim",
            "train.steps", "train.batch_size", "train.lr", "train.beta1", "train.beta2", "train.n_critic",
            "train.lambda_gp", "train.clip_value", "train.scheduler", "train.device", "variants"}
    raw = deep_merge(TINY, {"data": {"name": "ring8", "root": "/x", "download": True},
                            "model": {"arch": "mlp", "z_dim": 3},
                            "train": {"lr": 2e-4, "beta1": 0.0, "beta2": 0.99, "n_critic": 2, "lambda_gp": 1.0,
                                      "clip_value": 0.05},
                            "variants": ["wgan_gp", "wgan_clip",
                                         {"preset": "wgan_gp", "name": "s", "train": {"scheduler": "cosine"}}]})
    exp = parse_experiment(raw)
    from harness.core.strict import flatten, to_plain

    flat = flatten(to_plain(exp))
    assert {k for k in keys if k != "variants"} <= set(flat)
    assert (exp.data.root, exp.data.download, exp.model.z_dim, exp.train.beta1) == ("/x", True, 3, 0.0)
    assert resolve_run(exp, "s").train.scheduler == "cosine"


@pytest.mark.parametrize("raw, message", [
    ({"data": {"name": "digits"}, "model": {"arch": "dcgan"},
      "variants": ["wgan_gp", {"preset": "wgan_gp", "name": "r", "model": {"arch": "resnet", "width": 8}}]},
     "variants[1].model.width: 8 is not read by variant 'r' (it is read by arch mlp, arch dcgan"),
    ({"variants": [{"preset": "vanilla", "train": {"lambda_gp": 5.0}}]},
     "variants[0].train.lambda_gp: 5.0 is not read by variant 'vanilla' (it is read by constraint gp, "),
])
def test_a_knob_a_variant_sets_but_does_not_read_is_refused(raw: dict, message: str) -> None:
    assert config_error(raw).startswith(message)


def test_a_top_level_knob_may_serve_variants_that_are_not_selected_today() -> None:
    """The YAML keeps the papers' values for every recipe; `--set variants=[...]` narrows without editing it."""
    exp = tiny_experiment(train={"clip_value": 0.05}, model={"arch": "resnet", "width": 32}, data={"name": "digits"},
                          variants=["wgan_gp"])
    assert exp.train.clip_value == 0.05 and exp.model.width == 32


def test_a_top_level_value_is_a_default_that_every_variant_may_replace() -> None:
    """Top-level sections are defaults: a value every variant (level) replaces is not refused, and each
    variant runs its own (the rule before 2026-12 refused it, which made Miyato's settings unwritable)."""
    exp = tiny_experiment(train={"n_critic": 3}, variants=["vanilla", {"preset": "wgan_gp", "train": {"n_critic": 2}}])
    assert exp.run("vanilla").train.n_critic == 1 and exp.run("wgan_gp").train.n_critic == 2
    kept = tiny_experiment(train={"n_critic": 3}, variants=["vanilla", "wgan_gp"])
    assert kept.run("wgan_gp").train.n_critic == 3  # no preset value: the top level's

