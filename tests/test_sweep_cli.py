"""`python -m harness.sweep` end to end on tiny budgets, into temporary SQLite stores."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import signal
import socket
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from optuna.trial import TrialState

from harness.report.load import successor_numbers, trial_record
from harness.stores.keys import study_names
from harness.sweep.objective import INTERRUPTED_REASON
from harness.sweep.studies import slot_trials
from tests.conftest import TINY
from tests.sweep_support import REPO, mlflow_runs, run_sweep_cli, start_sweep_cli, studies, write_config

pytestmark = pytest.mark.slow
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def child_runs(folder: Path) -> list:
    return [r for r in mlflow_runs(folder) if r.data.tags.get("harness.role") == "trial"]


def store_bytes(folder: Path) -> dict[str, bytes]:
    """The SQLite stores' files, byte for byte: a refused command must not have written to either."""
    return {name: (folder / "runs" / name).read_bytes() for name in ("optuna.db", "mlflow.db")}


def assert_exact_budget(folder: Path, budget: int, seeds: int, variants: tuple[str, ...]) -> None:
    """Every study holds exactly its budget of slot trials, each with exactly one FINISHED MLflow run."""
    found = studies(folder)
    runs_by_id = Counter(r.info.run_id for r in child_runs(folder))
    for variant in variants:
        for name, expected in zip(study_names("e2e", variant), (budget, seeds)):
            slots = slot_trials(found[name].get_trials(deepcopy=False))
            assert len(slots) == expected, name
            assert all(t.state in FINISHED for t in slots), [t.state for t in slots]
            assert len({t.number for t in slots}) == expected
            for t in slots:
                assert runs_by_id[t.user_attrs["mlflow_run_id"]] == 1


PROGRESS_LINE = re.compile(r"^\[\d+/10\] (search t\d+|confirm s\d) · (vanilla|wgan_gp): (complete|pruned|diverged)"
                           r"(, w1 \S+)? in \d+s; sweep \S+ elapsed, ETA \S+", re.MULTILINE)


def test_full_sweep_records_studies_trials_runs_metrics_and_images(tmp_path: Path) -> None:
    config = write_config(tmp_path, sweep={"report": True})
    done = run_sweep_cli(tmp_path, config, stdout=tmp_path / "sweep.log")  # a log file, as under nohup
    assert done.returncode == 0, done.stderr
    assert "settled" in done.stdout
    assert len(PROGRESS_LINE.findall(done.stdout)) == 10, done.stdout  # a line for each finished run
    found = studies(tmp_path)
    assert set(found) == {*study_names("e2e", "vanilla"), *study_names("e2e", "wgan_gp")}
    assert_exact_budget(tmp_path, budget=3, seeds=2, variants=("vanilla", "wgan_gp"))

    # The config's own values are always measured first; knobs apply only where they mean something.
    vanilla, gp = found["e2e/vanilla"].trials, found["e2e/wgan_gp"].trials
    assert vanilla[0].params == {"n_critic": 1}
    assert gp[0].params == {"lambda_gp": 10.0, "n_critic": 5}
    assert all("lambda_gp" not in t.params for t in vanilla)
    confirm = found[study_names("e2e", "wgan_gp")[1]].trials
    history = confirm[0].user_attrs["eval_history"]
    assert history["step"] == [20.0, 40.0] and history["cost_generator_steps"] == [20.0, 40.0]
    assert history["value"][-1] == confirm[0].value
    assert 0 < history["cost_train_seconds"][0] < history["cost_train_seconds"][1] == confirm[0].user_attrs[
        "train_seconds"]
    best = found["e2e/wgan_gp"].best_trial
    assert sorted(t.user_attrs["seed"] for t in confirm) == [1, 2]
    assert all(t.params == best.params and t.user_attrs["source_trial"] == best.number for t in confirm)

    # Two evaluations per run are too few to judge convergence: the verdict is scoped, never unqualified.
    report = tmp_path / "reports" / "e2e"
    convergence = (report / "convergence.csv").read_text().splitlines()
    assert convergence[0].startswith("variant,status,") and all(",unknown," in row for row in convergence[1:])
    assert "still improving cannot be told" in (report / "report.md").read_text()
    assert {"equal_time.csv", "budget_curve.csv", "time_curve.png", "budget_curve.png"} <= {
        p.name for p in report.iterdir()}

    runs = mlflow_runs(tmp_path)
    parents = {r.info.run_name: r.info.run_id for r in runs if r.data.tags.get("harness.role") == "study"}
    children = child_runs(tmp_path)
    assert set(parents) == {"vanilla", "wgan_gp"} and len(children) == 2 * (3 + 2)
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    # `mlflow ui` opens the experiment on its runs table, not on MLflow 3's GenAI overview.
    assert client.get_experiment_by_name("e2e").tags["mlflow.experimentKind"] == "custom_model_development"
    assert_parents_summarize_their_seeds(client, parents, found)
    assert_real_data_shown_once(client, runs)
    for run in children:
        tags = run.data.tags
        assert tags["mlflow.parentRunId"] == parents[tags["harness.variant"]]
        assert tags["harness.stage"] in ("search", "confirm") and "harness.config_hash" in tags
        assert run.info.run_name.startswith(tags["harness.stage"] + " ") and run.info.run_name.endswith(
            " · " + tags["harness.variant"])  # `confirm s2 · wgan_gp`: apart at a glance in a narrow column
        assert ("train.lambda_gp" in run.data.params) == (tags["harness.variant"] == "wgan_gp")  # applicable only
        assert "train.clip_value" not in run.data.params and "train.device" not in run.data.params
        assert "data.name" not in run.data.params and run.data.params["seed"] == tags["harness.seed"]  # config.yaml
        assert {"d_loss", "g_loss", "wasserstein", "grad_norm_mean", "grad_norm_max", "lr_G", "lr_D",
                "seconds_per_step", "w1", "eval_seconds"} <= set(run.data.metrics)
        # the gradient penalty is logged by the constraint that computes it, under its name, and nowhere else
        assert ("gp" in run.data.metrics) == (tags["harness.variant"] == "wgan_gp")
        assert run.data.params["train.steps"] == "40"
        # every run records the size of its networks (the mlp at width 32, depth 2: 2-32-32-2 and 2-32-32-1)
        z = int(run.data.params["model.z_dim"])
        assert run.data.params["model.generator_params"] == str((z * 32 + 32) + (32 * 32 + 32) + (32 * 2 + 2))
        assert run.data.params["model.critic_params"] == str((2 * 32 + 32) + (32 * 32 + 32) + (32 + 1))
        if tags["harness.outcome"] == "complete":
            assert {"cost_generator_steps", "cost_critic_updates", "cost_images_seen", "cost_train_seconds",
                    "train_seconds_total"} <= set(run.data.metrics)
            costs = client.get_metric_history(run.info.run_id, "cost_critic_updates")
            assert [(m.step, m.value) for m in costs] == [(s, s * int(run.data.params["train.n_critic"]))
                                                         for s in (20, 40)]
            assert [m.step for m in client.get_metric_history(run.info.run_id, "d_loss")] == [10, 20, 30, 40]
            assert [m.step for m in client.get_metric_history(run.info.run_id, "w1")] == [20, 40]
            images = [a.path for a in client.list_artifacts(run.info.run_id, "images")]
            assert sum(p.endswith(".png") for p in images) == 3  # steps 0, 20 and 40
            assert any(p.startswith("images/samples+step+0+") for p in images)  # the untrained G, where the slider starts
            assert {"checkpoint.pt", "samples.pt", "samples.png", "config.yaml"} <= {
                a.path for a in client.list_artifacts(run.info.run_id)}


def assert_parents_summarize_their_seeds(client: Any, parents: dict[str, str], found: dict[str, Any]) -> None:
    """A parent run holds the objective's mean, sd and CI over its confirmation seeds, its rank and its
    convergence status: the runs table can sort the variants. Its end time gives it a Duration."""
    ranks = set()
    for variant, run_id in parents.items():
        run = client.get_run(run_id)
        confirm = [t.value for t in found[study_names("e2e", variant)[1]].trials if t.value is not None]
        assert run.data.metrics["summary/w1_mean"] == pytest.approx(sum(confirm) / len(confirm))
        assert {f"summary/{name}" for name in ("w1_sd", "w1_ci_low", "w1_ci_high", "w1_seeds", "modes_mean")} <= set(
            run.data.metrics)
        assert run.data.tags["harness.convergence"] in ("converged", "improving", "unknown")
        ranks.add(run.data.tags["harness.rank"])
        assert run.info.status == "FINISHED" and run.info.end_time >= run.info.start_time
    assert ranks == {"1", "2"}


def assert_real_data_shown_once(client: Any, runs: list) -> None:
    reference = [r for r in runs if r.data.tags.get("harness.role") == "reference"]
    assert len(reference) == 1 and reference[0].info.run_name == "real data · ring8"
    images = [a.path for a in client.list_artifacts(reference[0].info.run_id, "images")]
    assert any(p.startswith("images/real_data+step+0+") and p.endswith(".png") for p in images)


def test_rerunning_a_settled_sweep_adds_nothing_and_a_bigger_budget_tops_up(tmp_path: Path) -> None:
    config = write_config(tmp_path, variants=["wgan_gp"], sweep={"trials_per_variant": 2, "seeds": 1})
    assert run_sweep_cli(tmp_path, config).returncode == 0
    runs_before = len(child_runs(tmp_path))
    again = run_sweep_cli(tmp_path, config)
    assert again.returncode == 0, again.stderr
    assert len(child_runs(tmp_path)) == runs_before == 3
    assert [r.data.tags.get("harness.role") for r in mlflow_runs(tmp_path)].count("reference") == 1  # once
    bigger = run_sweep_cli(tmp_path, config, "--set", "sweep.trials_per_variant=3")
    assert bigger.returncode == 0, bigger.stderr
    assert len(studies(tmp_path)["e2e/wgan_gp"].trials) == 3
    # More steps under the same name would re-report these runs as the longer ones: refused, nothing written
    runs_before, stores_before = len(child_runs(tmp_path)), store_bytes(tmp_path)
    longer = run_sweep_cli(tmp_path, config, "--set", "train.steps=80")
    assert longer.returncode == 2 and longer.stderr.count("\n") == 1, longer.stderr
    assert longer.stderr.startswith("error: train.steps: 80 differs from 40, with which experiment 'e2e' (variant "
                                    "wgan_gp) already ran in sqlite:///runs/optuna.db;"), longer.stderr
    assert len(child_runs(tmp_path)) == runs_before and store_bytes(tmp_path) == stores_before
    # --dry-run makes the same check and ends the same way (issue 27: it exited 0 and planned the longer run)
    dry = run_sweep_cli(tmp_path, config, "--set", "train.steps=80", "--dry-run")
    assert dry.returncode == 2 and dry.stderr == longer.stderr, dry.stderr
    assert store_bytes(tmp_path) == stores_before


def test_dry_run_prints_the_plan_and_creates_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = run_sweep_cli(tmp_path, config, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "vanilla" in done.stdout and "wgan_gp" in done.stdout and "lambda_gp, n_critic" in done.stdout
    assert "n_critic\n" in done.stdout or "  n_critic" in done.stdout  # vanilla's only knob
    assert "total: 6 search trials + 4 confirmation runs" in done.stdout and ", 1 worker(s)" in done.stdout
    assert "dry run: checked: data, device, services, store files and schemas, stored recipes;" in done.stdout
    assert not (tmp_path / "runs").exists()


def test_the_worker_count_comes_from_the_config_and_the_flag_wins(tmp_path: Path, monkeypatch, capsys) -> None:
    from harness.sweep.__main__ import main

    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, sweep={"workers": 2})
    assert main([str(config), "--dry-run"]) == 0 and ", 2 worker(s)" in capsys.readouterr().out
    assert main([str(config), "--dry-run", "--workers", "3"]) == 0 and ", 3 worker(s)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main([str(config), "--dry-run", "--set", "sweep.workers=0"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "error: sweep.workers: 0 is out of range; allowed: >= 1 and <= 256"
    assert not (tmp_path / "runs").exists()


SHIPPED = sorted((Path(__file__).resolve().parent.parent / "experiments").glob("*.yaml"))


def dry_run(monkeypatch, capsys, tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    from harness.sweep.__main__ import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    try:
        code = main([*argv, "--dry-run"])
    except SystemExit as ended:
        code = ended.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("config", SHIPPED, ids=lambda path: path.name)
def test_only_narrows_every_shipped_experiment_to_the_chosen_cells(config: Path, tmp_path: Path, monkeypatch,
                                                                    capsys) -> None:
    """`--only` keeps the last level of the first factor (and the first of a second): the plan lists exactly
    those cells and nothing is refused because of the narrowing (missing data or CUDA are what a real run
    would meet)."""
    from harness.config.resolve import load_experiment

    whole = load_experiment(config)
    only = [f"{whole.factors[0].name}={whole.factors[0].levels[-1].name}"]
    if len(whole.factors) > 1:
        only.append(f"{whole.factors[1].name}={whole.factors[1].levels[0].name}")
    argv = [str(config), *(word for item in only for word in ("--only", item))]
    code, out, err = dry_run(monkeypatch, capsys, tmp_path, *argv)
    assert code == 0 or (code == 2 and "error: data.root: " in err or "error: train.device: " in err), err
    kept = load_experiment(config, only=only).variants
    rows = [line for line in out.splitlines() if re.match(r"^  \S", line) and not line.startswith(("  storage",
                                                                                                  "  tracking"))]
    assert len(rows) == 1 + len(kept) + 1, out  # header, one row per kept cell, total
    assert f"over {len(kept)} cell(s)" in out and all(line.startswith("notice: ") for line in err.splitlines()
                                                      if not line.startswith("error: "))
    assert not list(tmp_path.iterdir())


def test_the_grid_plan_counts_each_cells_real_points(tmp_path: Path, monkeypatch, capsys) -> None:
    """vanilla searches n_critic only (2 points, its own value among them); wgan_gp also lambda_gp (2 x 3 = 6).
    The header said "full factorial, 10 points" (the default trial count) before."""
    config = write_config(tmp_path, sweep={"sampler": "grid", "trials_per_variant": None})
    raw = yaml.safe_load(config.read_text())
    raw["sweep"]["space"] = {"n_critic": {"choices": [1, 5]}, "lambda_gp": {"choices": [1.0, 10.0, 100.0]}}
    config.write_text(yaml.safe_dump(raw))
    code, out, _ = dry_run(monkeypatch, capsys, tmp_path, str(config))
    assert code == 0
    assert "sampler grid (full factorial of each cell's applicable knobs, the config's own values among them: 2-6 " \
           "points per cell, 8 in all)" in out
    assert re.search(r"^  vanilla +1 +bce +none +2 +2 +n_critic$", out, re.MULTILINE), out
    assert re.search(r"^  wgan_gp +5 +wasserstein +gp +6 +2 +lambda_gp, n_critic$", out, re.MULTILINE), out


@pytest.mark.parametrize("config", SHIPPED, ids=lambda path: path.name)
def test_every_shipped_experiment_validates_and_plans(config: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    """The README's configs load strictly and plan every variant they name (in-process, nothing is created)."""
    from harness.config.resolve import load_experiment
    from harness.sweep.__main__ import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    try:
        code = main([str(config), "--dry-run"])
    except SystemExit as ended:
        code = ended.code
    out, err = capsys.readouterr()
    # --dry-run checks the machine as the run would: MNIST and CIFAR-10 files, or CUDA, may be absent here
    assert code == 0 or (code == 2 and err.startswith(("error: data.root: ", "error: train.device: "))), err
    cells = [[level for _, level in spec.levels] for spec in load_experiment(config).variants]
    assert len(cells) >= 4 and all(re.search(r"^  " + r" +".join(map(re.escape, levels)) + " ", out, re.MULTILINE)
                                   for levels in cells), out
    assert "total: " in out and not list(tmp_path.iterdir())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BAD_INPUTS = {
    "malformed yaml": ("name: [oops", "malformed YAML"),
    "unknown variant": ("variants: [wgan_gpp]", "variants[0].preset: 'wgan_gpp' is not one of"),
    "unknown sampler": ("sweep: {trials_per_variant: 2, sampler: bayes}", "sweep.sampler: 'bayes' is not one of"),
    "unknown pruner": ("sweep: {trials_per_variant: 2, pruner: asha}", "sweep.pruner: 'asha' is not one of"),
    "inverted range": ("sweep: {trials_per_variant: 2, space: {beta1: {low: 0.9, high: 0.1}}}",
                       "sweep.space.beta1: low 0.9 must be below high 0.1"),
    "empty choices": ("sweep: {trials_per_variant: 2, space: {n_critic: {choices: []}}}",
                      "sweep.space.n_critic.choices: is empty"),
    "unknown key": ("train: {n_critics: 5}\nsweep: {trials_per_variant: 2}", "train.n_critics: unknown key"),
    "quoted number": ("train: {lr: '1e-4'}\nsweep: {trials_per_variant: 2}", "train.lr: '1e-4' is a string"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    text, expected = BAD_INPUTS[case]
    config = tmp_path / "bad.yaml"
    config.write_text(("name: bad\n" if not text.startswith("name") else "") + text + "\n")
    done = run_sweep_cli(tmp_path, config)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()


def test_unreachable_tracking_server_fails_before_training(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = run_sweep_cli(tmp_path, config, "--tracking-uri", f"http://127.0.0.1:{closed_port()}")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: tracking.uri: cannot reach MLflow at http://127.0.0.1:")
    assert not (tmp_path / "runs").exists()


def wait_for(condition, timeout_s: float = 300, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def running_trial(folder: Path, study: str) -> int | None:
    """Number of a RUNNING trial that has its MLflow run, once another trial has COMPLETEd; read with a
    short-lived read-only connection: a poller must never hold a SQLite lock that stalls the sweep."""
    db = folder / "runs" / "optuna.db"
    if not db.exists():
        return None
    query = ("SELECT t.number, t.state, EXISTS(SELECT 1 FROM trial_user_attributes a WHERE a.trial_id = t.trial_id "
             "AND a.key = 'mlflow_run_id') FROM trials t JOIN studies s ON s.study_id = t.study_id "
             "WHERE s.study_name = ?")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as connection:
            rows = connection.execute(query, (study,)).fetchall()
    except sqlite3.Error:  # mid-creation or busy: look again
        return None
    running = [number for number, state, has_run in rows if state == "RUNNING" and has_run]
    complete = any(state == "COMPLETE" for _, state, _ in rows)
    return running[0] if running and complete else None


def test_sigkill_mid_trial_then_rerun_resumes_with_exact_counts(tmp_path: Path) -> None:
    config = write_config(tmp_path, variants=["wgan_gp"], train={"steps": 300, "eval_every": 100, "sample_every": 300},
                          sweep={"trials_per_variant": 3, "seeds": 1})
    worker = start_sweep_cli(tmp_path, config)
    killed = wait_for(lambda: running_trial(tmp_path, "e2e/wgan_gp"), what="a running trial after a complete one")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    rerun = run_sweep_cli(tmp_path, config)
    assert rerun.returncode == 0, rerun.stderr
    assert_exact_budget(tmp_path, budget=3, seeds=1, variants=("wgan_gp",))
    trials = studies(tmp_path)["e2e/wgan_gp"].trials
    dead = trials[killed]
    assert dead.state == TrialState.FAIL
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retry) == 1 and retry[0].state in FINISHED and retry[0].params == dead.params
    statuses = {r.info.run_id: r.info.status for r in child_runs(tmp_path)}
    assert statuses[dead.user_attrs["mlflow_run_id"]] == "KILLED"
    assert statuses[retry[0].user_attrs["mlflow_run_id"]] == "FINISHED"


def test_ctrl_c_requeues_running_trials_and_a_rerun_finishes_exactly(tmp_path: Path) -> None:
    config = write_config(tmp_path, variants=["wgan_gp"], train={"steps": 300, "eval_every": 100, "sample_every": 300},
                          sweep={"trials_per_variant": 4, "seeds": 1})
    sweep = start_sweep_cli(tmp_path, config, "--workers", "2")
    wait_for(lambda: running_trial(tmp_path, "e2e/wgan_gp"), what="a running trial after a complete one")
    os.killpg(sweep.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, err = sweep.communicate(timeout=120)
    assert sweep.returncode == 130, err
    assert "run the same command again to resume" in err and "Traceback" not in err
    trials = studies(tmp_path)["e2e/wgan_gp"].trials
    interrupted = [t for t in trials if t.state == TrialState.FAIL]
    assert interrupted and all(t.user_attrs.get("outcome") != "error" for t in interrupted)
    assert not [t for t in trials if t.state == TrialState.RUNNING]  # nothing left dangling
    statuses = {r.info.run_id: r.info.status for r in child_runs(tmp_path)}
    assert all(statuses[t.user_attrs["mlflow_run_id"]] == "KILLED" for t in interrupted)
    # The bookkeeping says what happened: Ctrl-C, not a dead worker; the parent run is not left RUNNING.
    assert all(t.user_attrs["reason"] == INTERRUPTED_REASON for t in interrupted)
    parents = [r for r in mlflow_runs(tmp_path) if r.data.tags.get("harness.role") == "study"]
    assert [r.info.status for r in parents] == ["KILLED"]
    retried = successor_numbers(trials)
    rows = [trial_record("wgan_gp", "search", t, retried.get(t.number), 0) for t in interrupted]
    assert {row["reason"] for row in rows} == {INTERRUPTED_REASON} and {row["outcome"] for row in rows} == {"interrupted"}
    rerun = run_sweep_cli(tmp_path, config)
    assert rerun.returncode == 0, rerun.stderr
    assert_exact_budget(tmp_path, budget=4, seeds=1, variants=("wgan_gp",))
    trials = studies(tmp_path)["e2e/wgan_gp"].trials
    for t in trials:  # a re-queued copy inherited `interrupted`; once it completes it says so
        if t.state == TrialState.COMPLETE:
            assert t.user_attrs["outcome"] == "complete", t.number
    parents = [r for r in mlflow_runs(tmp_path) if r.data.tags.get("harness.role") == "study"]
    assert [r.info.status for r in parents] == ["FINISHED"]


def children_of(pid: int) -> set[int]:
    """PIDs of the processes whose parent is `pid` (from /proc: no psutil needed)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                # the field after the ")" of the command name: state, then the parent's PID
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing


def test_sigterm_to_the_sweep_alone_requeues_stops_the_workers_and_exits_143(tmp_path: Path) -> None:
    """What `kill`, `docker stop`, systemd and a scheduler's time limit do: SIGTERM to the sweep's process
    only. Its workers stop too, the running trials are re-queued at once, and a rerun finishes exactly."""
    config = write_config(tmp_path, variants=["wgan_gp"], train={"steps": 300, "eval_every": 100, "sample_every": 300},
                          sweep={"trials_per_variant": 4, "seeds": 1})
    sweep = start_sweep_cli(tmp_path, config, "--workers", "2")
    wait_for(lambda: running_trial(tmp_path, "e2e/wgan_gp"), what="a running trial after a complete one")
    workers = children_of(sweep.pid)
    assert len(workers) >= 2
    sweep.send_signal(signal.SIGTERM)
    _, err = sweep.communicate(timeout=120)
    assert sweep.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("stopped by SIGTERM: finished trials are stored and the running "
                                                   "ones re-queued"), err
    assert "Traceback" not in err
    wait_for(lambda: not any(alive(pid) for pid in workers), what="the workers to end", timeout_s=30)
    trials = studies(tmp_path)["e2e/wgan_gp"].trials
    assert not [t for t in trials if t.state == TrialState.RUNNING]  # re-queued at once, not after the grace
    interrupted = [t for t in trials if t.state == TrialState.FAIL]
    assert interrupted and all(t.user_attrs["reason"] == INTERRUPTED_REASON for t in interrupted)
    rerun = run_sweep_cli(tmp_path, config)
    assert rerun.returncode == 0, rerun.stderr
    assert_exact_budget(tmp_path, budget=4, seeds=1, variants=("wgan_gp",))


def test_no_worker_outlives_a_sweep_killed_outright(tmp_path: Path) -> None:
    """SIGKILL cannot be handled by the sweep itself; its workers notice and stop as SIGTERM would."""
    config = write_config(tmp_path, variants=["wgan_gp"], train={"steps": 300, "eval_every": 100, "sample_every": 300},
                          sweep={"trials_per_variant": 4, "seeds": 1})
    sweep = start_sweep_cli(tmp_path, config, "--workers", "2")
    wait_for(lambda: running_trial(tmp_path, "e2e/wgan_gp"), what="a running trial after a complete one")
    workers = children_of(sweep.pid)
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.wait(timeout=60)  # not communicate(): the workers hold the pipes until they end
    wait_for(lambda: not any(alive(pid) for pid in workers), what="the orphaned workers to end", timeout_s=60)
    sweep.communicate(timeout=60)
    trials = studies(tmp_path)["e2e/wgan_gp"].trials
    assert not [t for t in trials if t.state == TrialState.RUNNING]  # they re-queued their trials on the way out
    assert [t for t in trials if t.state == TrialState.WAITING]  # and stopped, rather than run on to the end


def test_ctrl_c_while_a_trained_trial_is_recorded_waits_for_the_record(tmp_path: Path, monkeypatch) -> None:
    """The outcome of a finished training is written whole: Ctrl-C there must not leave it RUNNING."""
    import harness.sweep.objective as objective
    from harness.sweep.__main__ import main

    real_record = objective.record_timings

    def ctrl_c_midway(trial, result, wall_seconds):
        os.kill(os.getpid(), signal.SIGINT)  # lands between the trial's first and last write
        real_record(trial, result, wall_seconds)

    monkeypatch.setattr(objective, "record_timings", ctrl_c_midway)
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, variants=["wgan_gp"], sweep={"trials_per_variant": 2, "seeds": 1})
    assert main([str(config)]) == 130
    first, second = studies(tmp_path)["e2e/wgan_gp"].trials
    assert first.state == TrialState.COMPLETE and "train_seconds" in first.user_attrs
    assert second.state == TrialState.WAITING  # never claimed: the interrupt stopped the worker first
    statuses = {r.info.run_id: r.info.status for r in child_runs(tmp_path)}
    assert statuses == {first.user_attrs["mlflow_run_id"]: "FINISHED"}


def test_two_workers_share_one_budget(tmp_path: Path) -> None:
    config = write_config(tmp_path, variants=["wgan_gp"], sweep={"trials_per_variant": 4, "seeds": 2})
    done = run_sweep_cli(tmp_path, config, "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert_exact_budget(tmp_path, budget=4, seeds=2, variants=("wgan_gp",))
    found = studies(tmp_path)
    workers = {t.user_attrs["worker"] for name in found for t in found[name].trials}
    assert len(workers) == 2, workers


def test_two_copies_started_at_the_same_instant_share_the_budget(tmp_path: Path) -> None:
    config = write_config(tmp_path, variants=["wgan_gp"], sweep={"trials_per_variant": 4, "seeds": 2})
    first, second = start_sweep_cli(tmp_path, config), start_sweep_cli(tmp_path, config)
    for process in (first, second):
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    assert_exact_budget(tmp_path, budget=4, seeds=2, variants=("wgan_gp",))
    assert len([r for r in mlflow_runs(tmp_path) if r.data.tags.get("harness.role") == "study"]) == 1
    # Each copy samples with its own seed: with one seed both would propose the same knobs.
    tried = [t.params["lambda_gp"] for t in slot_trials(studies(tmp_path)["e2e/wgan_gp"].get_trials())]
    assert len(set(tried)) == len(tried) == 4, tried


def test_pruned_and_diverged_trials_are_recorded_with_reasons(tmp_path: Path, monkeypatch) -> None:
    """In-process CLI run; trial 1 diverges, trial 2 reports a hopeless objective and gets pruned."""
    import harness.sweep.objective as objective
    from harness.sweep.__main__ import main
    from harness.train.trainer import Diverged, TrainCallback

    class Sabotage(TrainCallback):
        def on_eval(self, step, metrics):
            metrics["w1"] = 1e9

    real_train = objective.train

    def faulty_train(run, callbacks, state=None, result=None):
        number = next(cb.trial.number for cb in callbacks if isinstance(cb, objective.OptunaReporter))
        if number == 1:
            raise Diverged(7, "d_loss")
        if number == 2:
            callbacks = [Sabotage(), *callbacks]
        return real_train(run, callbacks, state=state, result=result)

    monkeypatch.setattr(objective, "train", faulty_train)
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, variants=["wgan_gp"],
                          sweep={"trials_per_variant": 3, "seeds": 1, "pruner": "median", "pruner_startup_trials": 1})
    assert main([str(config)]) == 0
    trials = studies(tmp_path)["e2e/wgan_gp"].trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.PRUNED]
    assert trials[1].user_attrs["outcome"] == "diverged"
    assert trials[1].user_attrs["reason"] == "diverged at step 7 (d_loss is not finite)"
    assert trials[2].user_attrs["outcome"] == "pruned" and trials[2].user_attrs["reason"].startswith("pruned at step 20")
    # Every outcome keeps its time accounting (benchmarks/sweep_efficiency.py adds it up).
    pruned_attrs = trials[2].user_attrs
    assert pruned_attrs["steps_done"] == 20 and pruned_attrs["evaluations"] == 1
    assert 0 < pruned_attrs["train_seconds"] < pruned_attrs["wall_seconds"] and pruned_attrs["eval_seconds"] > 0
    assert trials[1].user_attrs["steps_done"] == 0 and trials[1].user_attrs["wall_seconds"] >= 0
    runs = {r.info.run_id: r for r in child_runs(tmp_path)}
    diverged, pruned = runs[trials[1].user_attrs["mlflow_run_id"]], runs[trials[2].user_attrs["mlflow_run_id"]]
    assert diverged.info.status == "FAILED" and diverged.data.tags["harness.outcome"] == "diverged"
    assert pruned.info.status == "FINISHED" and pruned.data.tags["harness.reason"].startswith("pruned at step 20")
    assert_exact_budget(tmp_path, budget=3, seeds=1, variants=("wgan_gp",))


@pytest.mark.slow
def test_the_paper_scale_config_runs_on_the_cpu_at_a_tiny_scale(tmp_path: Path) -> None:
    """experiments/cifar10.yaml as shipped (ResNet, its recipes) on CIFAR-format batches, with tiny overrides."""
    from benchmarks.photo_patches import SMALL, write_all

    write_all(tmp_path / "sets", SMALL)  # real photographs as CIFAR-10 python batches: 50 train / 20 test
    config = Path(__file__).resolve().parent.parent / "experiments" / "cifar10.yaml"
    done = run_sweep_cli(
        tmp_path, config, "--set", f"data.root={tmp_path / 'sets' / 'cifar-photos'}", "model.ngf=8", "model.ndf=8",
        "train.steps=4", "train.batch_size=8", "train.log_every=2", "train.eval_every=2", "train.sample_every=4",
        "train.device=cpu", "train.n_critic=1", "eval.num_samples=20", "eval.metrics=[swd]", "sweep.objective=swd",
        "sweep.trials_per_variant=0", "sweep.seeds=1", "sweep.space={}",
        "variants=[wgan_gp_sched, sngan, {preset: wgan_clip, train: {optimizer: rmsprop, lr: 5.0e-5}}]",
        "sweep.report=false")
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [r for r in mlflow_runs(tmp_path, "cifar10-resnet") if r.data.tags.get("harness.role") == "trial"]
    assert {r.data.tags["harness.variant"] for r in runs} == {"wgan_gp_sched", "sngan", "wgan_clip"}
    optimizers = {r.data.tags["harness.variant"]: r.data.params["train.optimizer"] for r in runs}
    assert optimizers == {"wgan_gp_sched": "adam", "sngan": "adam", "wgan_clip": "rmsprop"}
    assert all(("train.beta1" in r.data.params) == (optimizers[r.data.tags["harness.variant"]] == "adam")
               for r in runs)  # Adam's betas are logged only where Adam trains
    assert all(r.data.params["model.arch"] == "resnet" and r.data.params["model.ngf"] == "8" for r in runs)
    assert all(int(r.data.params["model.critic_params"]) > 0 and "swd" in r.data.metrics for r in runs)


def checkout_of_this_tree(folder: Path) -> Path:
    """A git repository holding this working tree's tracked files as they are now (uncommitted edits
    included), committed: what a user's clone looks like before their first sweep."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        if (REPO / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, folder / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "clone"]):
        subprocess.run(git + command, cwd=folder, check=True, capture_output=True)
    return folder


def test_a_flagged_sweep_of_the_shipped_config_leaves_the_checkout_clean(tmp_path: Path) -> None:
    """Issue 27: a sweep with --set flags rewrote the shipped example report (17 tracked files)."""
    clone = checkout_of_this_tree(tmp_path / "clone")
    flags = ["--set", "train.steps=4", "--set", "train.eval_every=4", "--set", "train.sample_every=4",
             "--set", "train.log_every=2", "--set", "sweep.trials_per_variant=1", "--set", "sweep.seeds=1",
             "--set", "variants=[wgan_gp]", "--set", f"eval.cache_dir={TINY['eval']['cache_dir']}"]
    done = run_sweep_cli(clone, clone / "experiments" / "ablation.yaml", *flags)
    assert done.returncode == 0, done.stderr
    assert (clone / "reports" / "digits-ablation" / "report.md").is_file(), done.stderr  # it wrote its report...
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=clone,
                            capture_output=True, text=True, check=True).stdout
    assert status == ""  # ...and nothing git tracks or would offer to add

