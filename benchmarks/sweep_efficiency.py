"""Sweep efficiency: how much of a sweep's wall time is pure training, and where the rest goes.

Runs `python -m harness.sweep` as a subprocess into temporary stores, times the report
separately, then reads back what the sweep recorded (every trial's timings, stored as Optuna user
attrs whatever its outcome, and its start and end) and splits the wall time into buckets. Target: training >= 85% of wall time.

    python benchmarks/sweep_efficiency.py --quick                      # smoke run, seconds
    python benchmarks/sweep_efficiency.py                              # the full default ablation
    python benchmarks/sweep_efficiency.py --set sweep.trials_per_variant=2 --set sweep.seeds=1
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `harness` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import timing

QUICK_OVERRIDES = ["train.steps=20", "train.log_every=10", "train.eval_every=10", "train.sample_every=20",
                   "sweep.trials_per_variant=0", "sweep.seeds=1", "eval.num_samples=200",
                   "variants=[vanilla, wgan_gp]"]
TRAINING_TARGET = 0.85


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="experiments/ablation.yaml", help="experiment YAML (default: the ablation)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="passed through to python -m harness.sweep (and the report); repeatable")
    parser.add_argument("--report", action=argparse.BooleanOptionalAction, default=True,
                        help="run and time python -m harness.report after the sweep (default: yes)")
    parser.add_argument("--cache-dir", help="eval.cache_dir for the metric classifier (default: a fresh, cold one)")
    parser.add_argument("--threads", type=int,
                        help="OMP_NUM_THREADS of the sweep and report processes (default: unset, torch's choice)")
    parser.add_argument("--workdir", type=Path, help="a new folder to keep the stores in (default: a temporary one)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke-run defaults: --no-report, --threads 1 and {QUICK_OVERRIDES}")
    # One thread: two stall each other whenever another job shares the cores (10x slower here).
    args = timing.parse_with_quick(parser, argv, {"overrides": QUICK_OVERRIDES, "report": False, "threads": 1})
    args.config = Path(args.config) if Path(args.config).is_absolute() else timing.REPO / args.config
    return args


def cli_env(threads: int | None) -> dict[str, str]:
    """The caller's environment, with the repository importable and no tracking URI leaking in."""
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)  # torch's intra-op threads in the child processes
    env.pop("MLFLOW_TRACKING_URI", None)  # --tracking-uri wins anyway; keep the stores unambiguous
    env["PYTHONPATH"] = str(timing.REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# The README's layout, relative to the working folder: stores in runs/, the report in reports/<name>/,
# so a run here leaves exactly what `python -m harness.sweep CONFIG` leaves in a fresh clone.
STORAGE, TRACKING = "sqlite:///runs/optuna.db", "sqlite:///runs/mlflow.db"


def harness_command(module: str, args: argparse.Namespace, work: Path, *sets: str) -> list[str]:
    """`python -m MODULE CONFIG` on the working folder's stores; the user's --set come last, so they win."""
    sets = (*sets, f"eval.cache_dir={args.cache_dir or work / 'cache'}", *args.overrides)
    return [sys.executable, "-m", module, str(args.config), "--storage", STORAGE, "--tracking-uri", TRACKING,
            *[x for s in sets for x in ("--set", s)]]


def absolute(url: str, work: Path) -> str:
    return f"sqlite:///{work / url.removeprefix('sqlite:///')}"


def run_timed(command: list[str], work: Path, threads: int | None) -> tuple[datetime, float, str]:
    """(launch time, wall seconds, stdout); exits with the command's stderr when it fails.

    The working folder is `work`, so reports/ and runs/ land there, never in the repository.
    """
    launch = datetime.now()  # naive local time, as Optuna stamps its trials
    start = time.perf_counter()
    done = subprocess.run(command, cwd=work, env=cli_env(threads), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"error: {' '.join(command[:3])} ... exited with {done.returncode}")
    return launch, wall, done.stdout


@dataclass
class TrialTiming:
    """One trial's span in the Optuna storage and the parts the harness recorded for it."""

    label: str
    state: str
    start: datetime
    end: datetime
    train_s: float
    eval_s: float
    other_s: float  # sample pictures, tracking callbacks, checkpoints
    call_s: float | None  # the whole `train()` call; None for a trial whose worker died or was interrupted

    @property
    def span_s(self) -> float:
        return (self.end - self.start).total_seconds()


def load_trials(storage_url: str) -> list[TrialTiming]:
    """Every trial that ran, in start order, from the Optuna storage."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    timings = []
    for summary in optuna.get_all_study_summaries(storage_url, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=storage_url)
        for trial in study.get_trials(deepcopy=False):
            if trial.datetime_start is not None and trial.datetime_complete is not None:
                timings.append(trial_timing(f"{summary.study_name}#{trial.number}", trial))
    return sorted(timings, key=lambda t: t.start)


def trial_timing(label: str, trial: Any) -> TrialTiming:
    """Complete, pruned, diverged and failed trials carry train/eval/other/wall seconds as user attrs
    (harness.sweep.objective.record_timings). A trial whose worker died, or that was interrupted and
    re-queued, ran to no outcome: its whole span counts as lost, even where it holds timings (a retry
    inherits its predecessor's user attrs)."""
    attrs = trial.user_attrs
    ended = trial.state.name in ("COMPLETE", "PRUNED") or attrs.get("outcome") == "error"
    if not ended or "train_seconds" not in attrs:
        return TrialTiming(label, trial.state.name, trial.datetime_start, trial.datetime_complete, 0.0, 0.0, 0.0, None)
    return TrialTiming(label, trial.state.name, trial.datetime_start, trial.datetime_complete,
                       attrs["train_seconds"], attrs["eval_seconds"], attrs["other_seconds"], attrs["wall_seconds"])


def trial_buckets(trials: list[TrialTiming]) -> list[tuple[str, float]]:
    """The trials' spans split into what the harness recorded and the residuals between them."""
    done = [t for t in trials if t.call_s is not None]
    lost = [t for t in trials if t.call_s is None]
    stopped = sum(t.state != "COMPLETE" for t in done)
    return [
        ("training: pure generator/critic steps (train_seconds)", sum(t.train_s for t in done)),
        ("evaluation: metrics (eval_seconds)", sum(t.eval_s for t in done)),
        ("sample pictures, MLflow on_log/on_samples, checkpoints (other_seconds)", sum(t.other_s for t in done)),
        ("in train() but unrecorded: data, models, evaluator set-up, on_eval callbacks",
         sum(t.call_s - t.train_s - t.eval_s - t.other_s for t in done)),
        (f"per trial outside train(): claim, suggest, MLflow run + params, finish, tell ({stopped} of the "
         f"{len(done)} pruned, diverged or failed)", sum(t.span_s - t.call_s for t in done)),
        (f"trials whose worker died or was interrupted ({len(lost)}): their whole span",
         sum(t.span_s for t in lost)),
    ]


def process_buckets(trials: list[TrialTiming], launch: datetime, sweep_s: float) -> list[tuple[str, float]]:
    """The sweep process's time outside every trial: before the first, between them, after the last."""
    gaps = sum(max(0.0, (b.start - a.end).total_seconds()) for a, b in zip(trials, trials[1:]))
    end = launch + timedelta(seconds=sweep_s)
    return [
        ("between trials: claiming the next one, stale-trial checks", gaps),
        ("before the first trial: interpreter, imports, stores, metric classifier",
         (trials[0].start - launch).total_seconds()),
        ("after the last trial: parent runs, summary, interpreter exit", (end - trials[-1].end).total_seconds()),
    ]


NOTES = [
    "not recorded by the harness (so lumped or rebuilt above):",
    "- a trial whose worker died (or that was interrupted and re-queued) records no timings: its span is lost time;",
    "- other_seconds lumps sample pictures, MLflow on_log/on_samples and the final checkpoint artifacts;",
    "- the on_eval callbacks (Optuna report + pruner query, MLflow flush) run inside train() but outside both",
    "  eval_seconds and other_seconds, as do build_state and Evaluator.prepare: only wall_seconds contains them;",
    "- the time before the first trial (imports, store creation, metric classifier training) has no record;",
    "  it is measured here as the first trial's datetime_start minus the launch of the process.",
]


def summary_lines(buckets: list[tuple[str, float]], total_s: float, sweep_s: float, trials: int) -> list[str]:
    training_s = buckets[0][1]
    share = training_s / total_s
    verdict = "meets" if share >= TRAINING_TARGET else "misses"
    accounted = sum(seconds for _, seconds in buckets)
    return [f"wall time: {total_s:.1f} s (sweep process {sweep_s:.1f} s + report {total_s - sweep_s:.1f} s), "
            f"{trials} trials; accounted for below: {accounted:.1f} s",
            f"pure training: {training_s:.1f} s = {100 * share:.1f}% of wall time "
            f"({verdict} the >= {100 * TRAINING_TARGET:.0f}% target)"]


def measure(args: argparse.Namespace, work: Path) -> None:
    sweep_cmd = harness_command("harness.sweep", args, work, "sweep.report=false")  # the report is timed apart
    threads = f"OMP_NUM_THREADS={args.threads} " if args.threads else ""
    print(f"sweep: {threads}python {shlex.join(sweep_cmd[1:])}", flush=True)
    launch, sweep_s, stdout = run_timed(sweep_cmd, work, args.threads)
    print("\n".join("  | " + line for line in stdout.strip().splitlines()))
    report_s = 0.0
    if args.report:
        report_cmd = harness_command("harness.report", args, work)
        report_s = run_timed(report_cmd, work, args.threads)[1]
    trials = load_trials(absolute(STORAGE, work))
    if not trials:
        raise SystemExit("error: the sweep stored no finished trial")
    buckets = trial_buckets(trials) + process_buckets(trials, launch, sweep_s)
    buckets.append(("report (python -m harness.report, timed separately)" if args.report
                    else "report: not measured (--no-report)", report_s))
    total_s = sweep_s + report_s
    print()
    print("\n".join(summary_lines(buckets, total_s, sweep_s, len(trials))))
    timing.print_results(["where the wall time goes", "seconds", "% of wall"],
                         [[name, seconds, 100 * seconds / total_s] for name, seconds in buckets], "\n".join(NOTES))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("# Sweep efficiency: pure training share of a sweep's wall time")
    print(f"config: {args.config}; overrides: {' '.join(args.overrides) or '(none: the full default)'}")
    if args.workdir:
        if (args.workdir / "runs" / "optuna.db").exists():  # the sweep would resume it and train nothing new
            raise SystemExit(f"error: --workdir {args.workdir} already holds a sweep; pick a new folder")
        args.workdir.mkdir(parents=True, exist_ok=True)
        measure(args, args.workdir.resolve())
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        measure(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
