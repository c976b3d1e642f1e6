"""Checkpoints: N steps straight == N/2 + save + load + N/2, bit for bit on the CPU, and what a file holds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

import harness.train.trainer as trainer
from harness.train.checkpoint import FORMAT_VERSION, RESUMABLE_CHANGES, load_checkpoint, save_checkpoint
from harness.config.resolve import RunConfig
from harness.core.errors import UserError
from harness.recipes.optimizers import OPTIMIZERS
from harness.core.strict import flatten, to_plain
from harness.train.trainer import TrainCallback, TrainState, build_state, train
from tests.conftest import VARIANTS, tiny_run

STEPS = 8
# A checkpoint every STEPS/2 steps in *both* runs, so the straight and the resumed run see the same
# logging/evaluation boundaries (see test_cadence_keys_do_not_change_the_trajectory for why that matters).
SPLIT = {"steps": STEPS, "checkpoint_every": STEPS // 2, "log_every": STEPS // 2, "eval_every": STEPS,
         "sample_every": STEPS}
CASES = {"mlp-ring8": {}, "dcgan-digits8": {"train": {"batch_size": 64}}}  # 64 x 5 x 8 > 1437: a reshuffle


@pytest.fixture(autouse=True)
def _no_classifier_for_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """Image metrics train a classifier (seconds, and a shared cache other engineers change): replace them here
    by a constant; the toys keep the real evaluator, so its effect on a resumed run is still covered."""
    real = trainer.Evaluator

    class ImagesConstant(real):  # type: ignore[misc, valid-type]
        def __init__(self, cfg, dataset, device) -> None:
            super().__init__(cfg, dataset, device)
            self.images = dataset.kind == "images"

        info: dict = {}


        def prepare(self) -> None:
            if not self.images:
                super().prepare()

        def __call__(self, G):
            return {self.cfg.objective: 0.0} if self.images else super().__call__(G)

    monkeypatch.setattr(trainer, "Evaluator", ImagesConstant)


class Killed(Exception):
    """Stands in for the process dying right after a checkpoint was written."""


class SaveThenDie(TrainCallback):
    def __init__(self, path: Path, at_step: int) -> None:
        self.path, self.at_step = path, at_step

    def on_checkpoint(self, state: TrainState) -> None:
        save_checkpoint(state, self.path)
        if state.step == self.at_step:
            raise Killed


def run_cfg(variant: str, case: str, **train_overrides) -> RunConfig:
    extra = CASES[case]
    return tiny_run(variant, case, train={**SPLIT, **extra.get("train", {}), **train_overrides})


def straight(cfg: RunConfig) -> TrainState:
    state = build_state(cfg)
    train(cfg, [], state)
    return state


def first_half(cfg: RunConfig, path: Path) -> None:
    with pytest.raises(Killed):
        train(cfg, [SaveThenDie(path, STEPS // 2)], build_state(cfg))
    assert torch.load(path, weights_only=True)["step"] == STEPS // 2


def tensors_of(state: TrainState) -> dict[str, torch.Tensor]:
    """Every number that defines the rest of the run but the global RNG: weights, buffers, moments, sampler."""
    out = {f"G.{k}": v for k, v in state.G.state_dict().items()}
    out.update({f"D.{k}": v for k, v in state.D.state_dict().items()})
    for name, opt in (("opt_G", state.opt_G), ("opt_D", state.opt_D)):
        for i, s in opt.state_dict()["state"].items():
            out.update({f"{name}.{i}.{k}": torch.as_tensor(v) for k, v in s.items()})
        out[f"{name}.lr"] = torch.tensor(opt.param_groups[0]["lr"], dtype=torch.float64)
    out.update({f"data.{k}": torch.as_tensor(v) for k, v in state.dataset.state_dict().items()})
    for name, hook in state.hooks.items():  # the EMA's average, ...
        out.update({f"hook.{name}.{k}": v for k, v in flatten(hook.state_dict()).items()})
    return out


def differing(a: TrainState, b: TrainState) -> list[str]:
    ta, tb = tensors_of(a), tensors_of(b)
    assert ta.keys() == tb.keys()
    return [k for k in ta if not torch.equal(ta[k], tb[k])]


# --- the round trip -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("variant", VARIANTS)
def test_resume_is_bit_identical_to_training_straight(variant: str, case: str, tmp_path: Path) -> None:
    cfg = run_cfg(variant, case)
    expected = straight(cfg)
    first_half(cfg, tmp_path / "ckpt.pt")
    resumed = load_checkpoint(tmp_path / "ckpt.pt", cfg)
    assert resumed.step == STEPS // 2
    train(cfg, [], resumed)
    assert resumed.step == STEPS
    assert differing(expected, resumed) == []
    if cfg.train.scheduler != "none":
        assert expected.sched_G.state_dict() == resumed.sched_G.state_dict()
        assert expected.sched_D.state_dict() == resumed.sched_D.state_dict()
        assert resumed.opt_G.param_groups[0]["lr"] == 0.0  # the linear decay ends at 0


@pytest.mark.parametrize("optimizer", OPTIMIZERS.names())
def test_resume_is_bit_identical_with_every_optimizer(optimizer: str, tmp_path: Path) -> None:
    cfg = run_cfg("wgan_clip", "mlp-ring8", optimizer=optimizer)
    expected = straight(cfg)
    first_half(cfg, tmp_path / "ckpt.pt")
    resumed = load_checkpoint(tmp_path / "ckpt.pt", cfg)
    train(cfg, [], resumed)
    assert type(resumed.opt_D) is type(expected.opt_D) and differing(expected, resumed) == []


def test_resumed_run_ends_with_the_same_rng_stream(tmp_path: Path) -> None:
    cfg = run_cfg("wgan_gp", "dcgan-digits8")
    straight(cfg)
    after_straight = torch.rand(4)
    first_half(cfg, tmp_path / "ckpt.pt")
    train(cfg, [], load_checkpoint(tmp_path / "ckpt.pt", cfg))
    assert torch.equal(torch.rand(4), after_straight)


@pytest.mark.parametrize("case", list(CASES))
def test_resume_with_a_generator_ema_is_bit_identical(case: str, tmp_path: Path) -> None:
    cfg = run_cfg("wgan_gp", case, g_ema=0.9, g_ema_start=2)
    expected = straight(cfg)
    first_half(cfg, tmp_path / "ckpt.pt")
    resumed = load_checkpoint(tmp_path / "ckpt.pt", cfg)
    train(cfg, [], resumed)
    keys = tensors_of(resumed)
    assert any(k.startswith("hook.ema.average.") for k in keys) and differing(expected, resumed) == []
    # the average is not G: it lags behind it
    assert not torch.equal(keys["hook.ema.average." + next(iter(resumed.G.state_dict()))],
                           next(iter(resumed.G.state_dict().values())))


def test_a_dropped_ema_state_breaks_the_round_trip(tmp_path: Path) -> None:
    cfg = run_cfg("wgan_gp", "mlp-ring8", g_ema=0.9)
    expected = straight(cfg)
    first_half(cfg, tmp_path / "ckpt.pt")
    fresh = build_state(cfg)
    resumed = load_checkpoint(tmp_path / "ckpt.pt", cfg)  # sets the RNG last
    resumed.hooks["ema"].load_state_dict(fresh.hooks["ema"].state_dict())
    train(cfg, [], resumed)
    assert differing(expected, resumed) and all(k.startswith("hook.ema.") for k in differing(expected, resumed))


@pytest.mark.parametrize("dropped", ["rng", "data sampler", "schedulers", "critic optimizer"])
def test_every_restored_part_matters(dropped: str, tmp_path: Path) -> None:
    """Not restoring any one part breaks the equality, so the round-trip test cannot pass vacuously."""
    cfg = run_cfg("wgan_gp_sched", "dcgan-digits8")
    expected = straight(cfg)
    first_half(cfg, tmp_path / "ckpt.pt")
    fresh = build_state(cfg)
    resumed = load_checkpoint(tmp_path / "ckpt.pt", cfg)  # sets the RNG last
    if dropped == "rng":
        torch.manual_seed(cfg.seed)
    elif dropped == "data sampler":
        resumed.dataset.load_state_dict(fresh.dataset.state_dict())
    elif dropped == "schedulers":
        resumed.sched_G.load_state_dict(fresh.sched_G.state_dict())
        resumed.sched_D.load_state_dict(fresh.sched_D.state_dict())
    else:
        resumed.opt_D.load_state_dict(fresh.opt_D.state_dict())
    train(cfg, [], resumed)
    assert any(k.startswith("G.") for k in differing(expected, resumed))


# --- what the file holds ----------------------------------------------------------------------------------


def test_checkpoint_is_a_plain_dict_with_every_part(tmp_path: Path) -> None:
    cfg = run_cfg("wgan_gp_sched", "dcgan-digits8", steps=2, checkpoint_every=0, log_every=2, eval_every=2,
                  sample_every=2)
    state = straight(cfg)
    path = save_checkpoint(state, tmp_path / "sub" / "ckpt.pt")
    assert path == tmp_path / "sub" / "ckpt.pt" and not list(path.parent.glob("*.tmp"))
    ckpt = torch.load(path, weights_only=True)
    assert set(ckpt) == {"format_version", "step", "config", "G", "D", "opt_G", "opt_D", "sched_G", "sched_D",
                         "hooks", "data", "rng", "progress"}
    assert ckpt["format_version"] == FORMAT_VERSION and ckpt["step"] == 2
    assert ckpt["config"] == to_plain(cfg)
    assert ckpt["sched_G"]["last_epoch"] == 2 and ckpt["data"]["pos"] == state.dataset.state_dict()["pos"]
    assert torch.equal(ckpt["data"]["perm"], state.dataset.state_dict()["perm"])
    assert all(torch.equal(ckpt["G"][k], v) for k, v in state.G.state_dict().items())
    assert any("running_mean" in k for k in ckpt["G"])  # the generator's batch-norm statistics travel too
    save_checkpoint(state, path)  # overwriting is fine
    assert torch.load(path, weights_only=True)["step"] == 2


def test_the_time_accounting_continues_after_a_resume(tmp_path: Path) -> None:
    """Cumulative seconds and evaluations carry over a resume instead of restarting at 0."""
    cfg = run_cfg("wgan_gp", "mlp-ring8", eval_every=STEPS // 2)
    first_half(cfg, tmp_path / "ckpt.pt")
    saved = torch.load(tmp_path / "ckpt.pt", weights_only=True)["progress"]
    assert saved["steps"] == STEPS // 2 and saved["train_seconds"] > 0 and saved["evaluations"] >= 1
    resumed = load_checkpoint(tmp_path / "ckpt.pt", cfg)
    assert resumed.result.train_seconds == saved["train_seconds"]
    assert resumed.result.history == [tuple(item) for item in saved["history"]]
    result = train(cfg, [], resumed)
    assert result is resumed.result and result.steps == STEPS
    assert result.train_seconds > saved["train_seconds"] and result.evaluations > saved["evaluations"]
    assert [step for step, _ in result.history][0] == [step for step, _ in saved["history"]][0]


def test_time_based_checkpoints_happen_at_window_boundaries_only() -> None:
    """checkpoint_every_seconds > 0 adds checkpoints at logging boundaries, never mid-window."""
    cfg = run_cfg("wgan_gp", "mlp-ring8", checkpoint_every=0, checkpoint_every_seconds=1e-9)
    steps: list[int] = []

    class Record(TrainCallback):
        def on_checkpoint(self, state: TrainState) -> None:
            steps.append(state.step)

    train(cfg, [Record()])
    assert steps == list(range(cfg.train.log_every, STEPS + 1, cfg.train.log_every))
    steps.clear()
    train(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, checkpoint_every_seconds=0.0)), [Record()])
    assert steps == [STEPS]


def test_schedulers_are_none_without_a_schedule(tmp_path: Path) -> None:
    cfg = run_cfg("wgan_gp", "mlp-ring8", steps=1, checkpoint_every=0, log_every=1, eval_every=1, sample_every=1)
    ckpt_path = save_checkpoint(straight(cfg), tmp_path / "c.pt")
    ckpt = torch.load(ckpt_path, weights_only=True)
    assert ckpt["sched_G"] is None and ckpt["sched_D"] is None and ckpt["data"] == {}
    assert load_checkpoint(ckpt_path, cfg).step == 1


# --- refusing what cannot be resumed ------------------------------------------------------------------


SAVED_RUN = {"steps": 2, "checkpoint_every": 0, "log_every": 2, "eval_every": 2, "sample_every": 2}


def saved_like(**changes) -> RunConfig:
    """The saved checkpoint's run (wgan_gp on the ring), with `changes` to its train section."""
    return run_cfg("wgan_gp", "mlp-ring8", **{**SAVED_RUN, **changes})


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunConfig]:
    cfg = saved_like()
    path = tmp_path_factory.mktemp("ckpt") / "ckpt.pt"
    save_checkpoint(straight(cfg), path)
    return path, cfg


def test_a_different_config_is_refused_naming_the_keys(saved: tuple[Path, RunConfig]) -> None:
    path, _ = saved
    other = saved_like(lr=3e-4, n_critic=2)
    with pytest.raises(UserError) as info:
        load_checkpoint(path, other)
    assert str(info.value) == (f"checkpoint {str(path)!r} was written with a different config "
                               "(differs in train.lr, train.n_critic); resume with the same config")


def test_a_checkpoint_written_before_a_key_existed_resumes_at_that_keys_old_value(
        saved: tuple[Path, RunConfig], tmp_path: Path) -> None:
    path, cfg = saved
    ckpt = torch.load(path, weights_only=True)
    del ckpt["config"]["train"]["optimizer"]  # written before the optimizer axis: every run used Adam
    torch.save(ckpt, tmp_path / "old.pt")
    assert load_checkpoint(tmp_path / "old.pt", cfg).step == 2
    with pytest.raises(UserError, match=r"\(differs in train\.optimizer\); resume with the same config$"):
        load_checkpoint(tmp_path / "old.pt", saved_like(optimizer="rmsprop"))


def test_resumable_keys_may_change(saved: tuple[Path, RunConfig]) -> None:
    path, _ = saved
    assert set(RESUMABLE_CHANGES) == {"train.steps", "train.log_every", "train.eval_every", "train.sample_every",
                                      "train.checkpoint_every", "train.checkpoint_every_seconds", "train.device"}
    cfg = run_cfg("wgan_gp", "mlp-ring8", steps=9, checkpoint_every=3, log_every=1, eval_every=5, sample_every=7,
                  checkpoint_every_seconds=60.0)
    assert load_checkpoint(path, cfg).step == 2


def test_missing_checkpoint_is_a_user_error(tmp_path: Path, saved: tuple[Path, RunConfig]) -> None:
    with pytest.raises(UserError, match="^cannot read checkpoint"):
        load_checkpoint(tmp_path / "none.pt", saved[1])


def test_a_file_that_is_not_a_checkpoint_is_a_user_error(tmp_path: Path, saved: tuple[Path, RunConfig]) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(UserError):
        load_checkpoint(tmp_path / "junk.pt", saved[1])


def test_an_empty_checkpoint_is_one_line_naming_what_the_caller_shows(tmp_path: Path,
                                                                      saved: tuple[Path, RunConfig]) -> None:
    (tmp_path / "empty.pt").write_bytes(b"")  # torch's own EOFError for it has no message at all
    with pytest.raises(UserError, match=r"^cannot read checkpoint artifact resume/checkpoint-a.pt: the file is empty"):
        load_checkpoint(tmp_path / "empty.pt", saved[1], shown="artifact resume/checkpoint-a.pt")


def test_a_checkpoint_whose_pickle_runs_a_command_is_refused_and_the_command_never_runs(
        tmp_path: Path, saved: tuple[Path, RunConfig]) -> None:
    from tests.test_data_safe_pickle import RunsCommand

    pwned = tmp_path / "pwned"
    ckpt = torch.load(saved[0], weights_only=True)
    ckpt["step"] = RunsCommand(f"touch {pwned}")
    torch.save(ckpt, tmp_path / "evil.pt")
    with pytest.raises(UserError, match=r"^cannot read checkpoint .*evil\.pt': Weights only load failed") as info:
        load_checkpoint(tmp_path / "evil.pt", saved[1])
    assert "\n" not in str(info.value) and not pwned.exists()


def test_a_checkpoint_of_another_format_is_refused(tmp_path: Path, saved: tuple[Path, RunConfig]) -> None:
    ckpt = torch.load(saved[0], weights_only=True)
    ckpt["format_version"] = FORMAT_VERSION + 1
    torch.save(ckpt, tmp_path / "future.pt")
    with pytest.raises(UserError, match="format"):
        load_checkpoint(tmp_path / "future.pt", saved[1])


def test_resuming_a_run_long_schedule_with_more_steps_is_refused(tmp_path: Path) -> None:
    """A linear/cosine decay was laid out over the original length: extending it would train at lr 0."""
    short = run_cfg("wgan_gp_sched", "mlp-ring8", steps=4, checkpoint_every=0, log_every=4, eval_every=4,
                    sample_every=4)
    save_checkpoint(straight(short), tmp_path / "c.pt")
    longer = run_cfg("wgan_gp_sched", "mlp-ring8", steps=8, checkpoint_every=0, log_every=4, eval_every=4,
                     sample_every=4)
    with pytest.raises(UserError, match=r"differs in train\.steps"):
        load_checkpoint(tmp_path / "c.pt", longer)


def test_resuming_a_constant_lr_run_with_more_steps_keeps_training(tmp_path: Path) -> None:
    short = run_cfg("wgan_gp", "mlp-ring8", steps=4, checkpoint_every=0, log_every=4, eval_every=4, sample_every=4)
    save_checkpoint(straight(short), tmp_path / "c.pt")
    longer = run_cfg("wgan_gp", "mlp-ring8", steps=8, checkpoint_every=0, log_every=4, eval_every=4, sample_every=4)
    state = load_checkpoint(tmp_path / "c.pt", longer)
    before = [p.detach().clone() for p in state.G.parameters()]
    train(longer, [], state)
    assert state.step == 8 and any(not torch.equal(a, b) for a, b in zip(before, state.G.parameters()))


# --- keys the checkpoint declares harmless must not change the run ----------------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("key", ["log_every", "checkpoint_every"])
def test_cadence_keys_do_not_change_the_trajectory(variant: str, key: str) -> None:
    base = {"steps": 6, "log_every": 6, "eval_every": 6, "sample_every": 6, "checkpoint_every": 0}
    a = straight(tiny_run(variant, train=base))
    b = straight(tiny_run(variant, train={**base, key: 2}))
    assert all(torch.equal(p, q) for p, q in zip(a.G.parameters(), b.G.parameters()))
