"""Exit codes and fail-fast checks of the sweep: what each ending returns, and nothing written before a check fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.errors import EXIT_NOTHING_USABLE, EXIT_UNFINISHED, EXIT_USER_ERROR
from harness.stores.keys import study_names
from harness.sweep.run import unfinished, usable_exit_code
from harness.sweep.status import StageCounts, VariantStatus
from tests.sweep_support import run_sweep_cli, studies, write_config


def counts(budget: int, complete: int, pruned: int = 0, failed: int = 0) -> StageCounts:
    return StageCounts(budget, complete, pruned, failed, running=0, requeued=0, values=(1.0,) * complete)


def status(search: StageCounts, confirm: StageCounts) -> VariantStatus:
    return VariantStatus("v", search, confirm, best=None, direction="minimize")


@pytest.mark.parametrize(("search", "confirm", "usable"), [
    (counts(3, 1, pruned=2), counts(2, 1, failed=1), True),  # one complete confirmation run is enough
    (counts(3, 1), counts(2, 0, pruned=2), False),  # the winner diverged on every fresh seed
    (counts(3, 0, pruned=3), counts(0, 0), False),  # nothing completed: confirmation skipped
    (counts(1, 1), counts(0, 0), True),  # no confirmation planned (a store from before seeds >= 1): the search run
])
def test_a_variant_is_usable_with_a_complete_run_of_its_last_stage(search, confirm, usable: bool) -> None:
    assert status(search, confirm).usable is usable


def test_exit_code_names_the_variants_without_results(capsys: pytest.CaptureFixture) -> None:
    good, bad = status(counts(2, 2), counts(1, 1)), status(counts(2, 0, pruned=2), counts(0, 0))
    assert usable_exit_code([good, good]) == 0
    assert usable_exit_code([good, bad]) == EXIT_NOTHING_USABLE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning: variant v produced nothing usable: no complete search run" in err
    assert "0 complete, 2 pruned or diverged" in err


def test_crashed_workers_exit_non_zero_and_say_so(capsys: pytest.CaptureFixture) -> None:
    assert unfinished([("sweep-worker-1", -9)]) == EXIT_UNFINISHED
    assert "sweep-worker-1 exited with -9 with part of the budget undone" in capsys.readouterr().err
    assert unfinished([("sweep-worker-0", EXIT_USER_ERROR)]) == EXIT_USER_ERROR  # it lost a service


@pytest.mark.slow
def test_a_sweep_where_every_trial_diverges_exits_3(tmp_path: Path) -> None:
    """The issue's own reproduction: a huge penalty and learning rate, nothing to search."""
    config = write_config(tmp_path, variants=["wgan_gp"], train={"lambda_gp": 1.0e38, "lr": 1.0, "steps": 20},
                          sweep={"trials_per_variant": 2, "seeds": 1})
    done = run_sweep_cli(tmp_path, config, "--set", "sweep.space={}")
    assert done.returncode == EXIT_NOTHING_USABLE, done.stderr
    assert "warning: variant wgan_gp produced nothing usable" in done.stderr
    confirm = studies(tmp_path)[study_names("e2e", "wgan_gp")[1]].trials
    assert confirm and all(t.user_attrs["outcome"] == "diverged" for t in confirm)


def assert_one_line_nothing_written(done, folder: Path, expected: str) -> None:
    assert done.returncode == EXIT_USER_ERROR, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert expected in done.stderr, done.stderr
    assert not list(folder.glob("runs/*.db")) and not (folder / "runs" / "optuna.db").exists()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["proc", "under a file"])
def test_store_paths_that_cannot_exist_are_one_line(tmp_path: Path, case: str) -> None:
    config = write_config(tmp_path)
    (tmp_path / "plain").write_text("a file, not a folder\n")
    bad = "sqlite:////proc/nope/optuna.db" if case == "proc" else f"sqlite:///{tmp_path}/plain/optuna.db"
    for flag in ("--storage", "--tracking-uri"):
        done = run_sweep_cli(tmp_path, config, flag, bad)
        assert_one_line_nothing_written(done, tmp_path, "cannot create the folder")


@pytest.mark.slow
@pytest.mark.parametrize(("overrides", "expected"), [
    (["--set", "train.device=cuda"], "train.device: 'cuda' but no CUDA device"),
    (["data.name=mnist", "data.root=nowhere", "model.arch=auto"], "nowhere"),
])
def test_environment_checks_fail_before_any_store_is_written(tmp_path: Path, overrides: list[str],
                                                             expected: str) -> None:
    import torch

    if torch.cuda.is_available() and "cuda" in overrides[-1]:
        pytest.skip("this machine has CUDA")
    config = write_config(tmp_path, variants=["wgan_gp"])
    done = run_sweep_cli(tmp_path, config, "sweep.space={}", "model={}", *overrides)
    assert_one_line_nothing_written(done, tmp_path, expected)
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_missing_inception_weights_stop_the_sweep_before_any_store_is_written(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # no weights there, and none are downloaded
    config = write_config(tmp_path, variants=["wgan_gp"], data={"name": "digits"}, model={"arch": "dcgan"},
                          eval={"metrics": ["fid"], "num_samples": 50})
    done = run_sweep_cli(tmp_path, config, "sweep.space={}", "model={arch: dcgan}", "sweep.objective=fid")
    assert_one_line_nothing_written(done, tmp_path, "fid needs the Inception weights")
    assert "gan-ablate fetch-weights" in done.stderr and "torch-home/hub/checkpoints/weights-inception" in done.stderr
    assert not (tmp_path / "torch-home" / "hub").exists()
