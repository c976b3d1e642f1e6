"""`gan-ablate launch slurm CONFIG --workers N`: the sweep's workers as one Slurm job array.

Checks the flags, the config and the stores before anything is written; then writes the sbatch
script under runs/slurm/<name>/, submits it, and with `--wait` follows the array to its end.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.config.cli_args import OneLineParser, make_parser, print_config, print_notices
from harness.config.resolve import ExperimentConfig, load_experiment
from harness.core.errors import EXIT_NOTHING_USABLE, UserError
from harness.core.strict import parse_value, rule
from harness.launch import script, shared, wait
from harness.stores.urls import absolute_sqlite, redact, resolve_urls

SCHEDULERS = ("slurm",)
EXAMPLES = """  gan-ablate launch slurm experiments/ablation.yaml --workers 8 --partition gpu --time 4:00:00 \\
      --storage postgresql+psycopg2://harness@db-host:5432/optuna --tracking-uri http://db-host:5000
  gan-ablate launch slurm experiments/ablation.yaml --workers 8 --print-script ...   # the script only
  gan-ablate launch slurm experiments/toy.yaml --workers 2 --single-node --wait      # SQLite, one node"""
WAIT_CODES = """--wait exits with the sweep's code, read from the tasks: 1 or 2 if a task had a bug or bad input;
else 0 or 3 if a task saw the sweep settled; else 4 (a worker lost) or 143 (stopped: time limit,
preemption, scancel): run the same command again to resume (docs/scale-out.md)."""


def new_parser(prog: str, **options: Any) -> argparse.ArgumentParser:
    options["epilog"] = f"{options.get('epilog', '')}\n\n{WAIT_CODES}"
    parser = OneLineParser(prog=prog, **options)
    parser.add_argument("scheduler", choices=SCHEDULERS, help="the batch system (slurm)")
    return parser


def build_parser(prog: str = "python -m harness.launch") -> argparse.ArgumentParser:
    parser = make_parser(prog, __doc__.splitlines()[0], EXAMPLES, new_parser)
    add = parser.add_argument
    add("--workers", type=int, required=True, help="array tasks, one sweep worker each")
    add("--partition", help="Slurm partition (default: the cluster's)")
    add("--time", help="time limit per task, as sbatch takes it: 30, 4:00:00, 1-12 (default: the partition's)")
    add("--gpus-per-worker", help="GPUs per task: N or TYPE:N (default: 1, or 0 when every variant trains on cpu)")
    add("--cpus-per-worker", type=int, default=2, help="CPUs per task (default: 2); also torch's threads")
    add("--mem", help="memory per task, e.g. 16G (default: the cluster's)")
    add("--sbatch-arg", dest="sbatch_args", action="append", default=[], metavar="OPTION",
        help="any other sbatch option, e.g. --sbatch-arg=--qos=high; repeatable")
    add("--warn-seconds", type=int, default=120,
        help="SIGTERM this long before the time limit (--signal=B:TERM@N): the running trial is re-queued "
             "(default: 120; 0: only at the limit)")
    add("--requeue", action="store_true", help="a preempted task goes back to the queue (sbatch --requeue)")
    add("--storage", help="Optuna storage URL, shared by every task (default: sweep.storage)")
    add("--tracking-uri", help="MLflow tracking URI, shared by every task (default: $MLFLOW_TRACKING_URI, "
                               "then tracking.uri)")
    add("--single-node", action="store_true", help="allow SQLite stores: every task must run on this node")
    add("--python", help="the interpreter each task runs, e.g. 'apptainer exec --nv harness.sif python' "
                         "(default: this one)")
    add("--print-script", action="store_true", help="print the sbatch script; submit and write nothing")
    add("--wait", action="store_true", help="follow the array to its end; exit with the sweep's code")
    add("--poll-seconds", type=float, default=10.0, help="--wait: seconds between looks at the queue (default: 10)")
    parser.set_defaults(run=run)
    return parser


def check_flags(args: argparse.Namespace) -> None:
    parse_value(int, args.workers, "--workers", rule(min=1, max=1000))  # Slurm's default MaxArraySize is 1001
    parse_value(int, args.cpus_per_worker, "--cpus-per-worker", rule(min=1, max=1024))
    parse_value(int, args.warn_seconds, "--warn-seconds", rule(min=0, max=65535))  # sbatch's limit
    parse_value(float, args.poll_seconds, "--poll-seconds", rule(min=0.1, max=3600))
    if args.python is not None and not shlex.split(args.python):
        raise UserError("--python: names no command; allowed: an interpreter, e.g. /opt/venv/bin/python")


def default_gpus(exp: ExperimentConfig) -> str:
    """One GPU per task, unless every variant trains on the CPU."""
    devices = {exp.run(spec.name).train.device for spec in exp.variants}
    return "0" if devices == {"cpu"} else "1"


def stores(args: argparse.Namespace, exp: ExperimentConfig) -> tuple[str, str]:
    """The two URLs the tasks get: checked, shareable across the nodes, and free of passwords."""
    storage, tracking = resolve_urls(args.storage, args.tracking_uri, exp)
    names = ("--storage" if args.storage is not None else "sweep.storage",
             "--tracking-uri" if args.tracking_uri is not None else
             "$MLFLOW_TRACKING_URI" if os.environ.get("MLFLOW_TRACKING_URI") else "tracking.uri")
    shared.check_shared((names[0], storage), (names[1], tracking), args.single_node, Path.cwd())
    for name, url in zip(names, (storage, tracking)):
        shared.check_no_password(name, url)
    return absolute_sqlite(storage), absolute_sqlite(tracking)  # the tasks' folder is fixed, but say it plainly


def sweep_command(args: argparse.Namespace, storage: str, tracking: str) -> list[str]:
    python = shlex.split(args.python) if args.python else [sys.executable]
    sets = [word for item in [*args.overrides, "sweep.report=false"] for word in ("--set", item)]
    only = [word for item in args.only for word in ("--only", item)]
    return [*python, "-m", "harness.sweep", str(Path(args.config).absolute()), "--storage", storage,
            "--tracking-uri", tracking, "--workers", "1", *sets, *only]


def make_job(args: argparse.Namespace, exp: ExperimentConfig, argv_text: str) -> script.SlurmJob:
    storage, tracking = stores(args, exp)
    job = script.SlurmJob(
        name=exp.name, workers=args.workers, command=sweep_command(args, storage, tracking),
        workdir=Path.cwd(), log_dir=Path.cwd() / "runs" / "slurm" / script.safe_name(exp.name), made_by=argv_text,
        partition=args.partition, time=args.time, gpus=args.gpus_per_worker or default_gpus(exp),
        cpus=args.cpus_per_worker, mem=args.mem, warn_seconds=args.warn_seconds, requeue=args.requeue,
        extra=list(args.sbatch_args), single_node_host=this_node() if args.single_node else None)
    script.check_formats(job)
    return job


def this_node() -> str:
    """This machine's short host name, as Slurm names its nodes and `hostname -s` prints it."""
    return socket.gethostname().split(".")[0]


def check_single_node(node: str) -> None:
    """--single-node submits to this very node: it must be one of the cluster's."""
    done = subprocess.run(["scontrol", "show", "node", node], capture_output=True, text=True, timeout=60)
    if done.returncode != 0 or f"NodeName={node} " not in done.stdout:
        raise UserError(f"--single-node: this machine ({node}) is not a node of the Slurm cluster, so no task could "
                        "reach its SQLite stores; use PostgreSQL and an MLflow server (docs/scale-out.md)")


def run(args: argparse.Namespace) -> int:
    check_flags(args)
    exp = load_experiment(args.config, args.overrides, args.only)
    print_notices(exp)
    if args.print_config:
        print_config(exp)
        return 0
    job = make_job(args, exp, launch_command_text(args))
    text = script.render(job)
    if args.print_script:
        print(text, end="")
        return 0
    job_id, path = submit(job, text)
    print_submitted(job, job_id, path)
    if not args.wait:
        return 0
    return wait_and_report(args, exp, job, job_id)


def launch_command_text(args: argparse.Namespace) -> str:
    """The launch command that made the script, every setting spelled out (for its header)."""
    flags = [("--workers", args.workers), ("--partition", args.partition), ("--time", args.time),
             ("--gpus-per-worker", args.gpus_per_worker), ("--cpus-per-worker", args.cpus_per_worker),
             ("--mem", args.mem), ("--warn-seconds", args.warn_seconds), ("--storage", args.storage),
             ("--tracking-uri", args.tracking_uri), ("--python", args.python)]
    words = ["slurm", args.config, *[f"{flag}={value}" for flag, value in flags if value is not None],
             *[f"--sbatch-arg={arg}" for arg in args.sbatch_args], *(["--requeue"] if args.requeue else []),
             *(["--single-node"] if args.single_node else []), *[f"--set={item}" for item in args.overrides],
             *[f"--only={item}" for item in args.only]]
    return "gan-ablate launch " + shlex.join(words)


def submit(job: script.SlurmJob, text: str) -> tuple[str, Path]:
    """Write the script and its log folder, then sbatch it; on a refusal, remove what was written."""
    if shutil.which("sbatch") is None:
        raise UserError("sbatch: not found; run launch on a Slurm login node (or use --print-script)")
    if job.single_node_host:
        check_single_node(job.single_node_host)
    created = highest_missing(job.log_dir)  # runs/ itself in a fresh folder: removed again on a refusal
    job.log_dir.mkdir(parents=True, exist_ok=True)
    path = script_path(job.log_dir)
    path.write_text(text, encoding="utf-8")
    done = subprocess.run(["sbatch", "--parsable", str(path)], capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not done.stdout.strip():
        path.unlink()
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        said = (done.stderr.strip().splitlines() or ["(no message)"])[-1].removeprefix("sbatch: error: ")
        raise UserError(f"sbatch refused the job, nothing was submitted: {said}")
    return done.stdout.strip().split(";")[0], path


def highest_missing(folder: Path) -> Path | None:
    """The outermost of `folder` and its parents that does not exist yet (None when `folder` exists)."""
    missing = None
    for path in (folder, *folder.parents):
        if path.exists():
            return missing
        missing = path
    return missing


def script_path(folder: Path) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path, n = folder / f"{stamp}.sbatch", 1
    while path.exists():
        n += 1
        path = folder / f"{stamp}-{n}.sbatch"
    return path


def shown(path: Path) -> str:
    """A path relative to the current folder where it lies below it (shorter lines), else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def print_submitted(job: script.SlurmJob, job_id: str, path: Path) -> None:
    print(f"submitted Slurm array job {job_id}: {job.workers} sweep worker(s) of {job.name!r}\n"
          f"  script  {shown(path)} (sbatch it again to resume)\n"
          f"  logs    {shown(job.log_dir)}/{job_id}_<task>.log\n"
          f"  watch   squeue -j {job_id}; stop: scancel {job_id}", flush=True)


def wait_and_report(args: argparse.Namespace, exp: ExperimentConfig, job: script.SlurmJob, job_id: str) -> int:
    try:
        tasks = wait.follow(job_id, job.workers, lambda task: job.log_dir / f"{job_id}_{task}.log", args.poll_seconds)
    except KeyboardInterrupt:
        print(f"stopped waiting; the array runs on (squeue -j {job_id}; scancel {job_id} stops it)", file=sys.stderr)
        raise
    codes = [wait.task_code(t.state, t.exit_code) for t in tasks.values()]
    code = wait.array_code(codes)
    print(f"array {job_id}: exit {code} ({ended_text(code)})", flush=True)
    if code in (0, EXIT_NOTHING_USABLE) and exp.sweep.report:
        write_report(args.config, exp, *stores(args, exp))
    return code


def ended_text(code: int) -> str:
    return {0: "the sweep is settled", EXIT_NOTHING_USABLE: "the sweep is settled, but some variant has nothing "
            "usable (see the tasks' logs)", 1: "a task hit a bug: see its traceback in its log",
            2: "a task stopped on bad input or a lost service: see its error line above"}.get(
        code, "budget left: run the same command again to resume")


def write_report(config: str, exp: ExperimentConfig, storage: str, tracking: str) -> None:
    """The report once, here, rather than by every task (which run with sweep.report=false)."""
    from harness.report import write_report as write  # pandas and seaborn only when a report is written

    try:
        print(f"report: {write(exp, storage, tracking)}", flush=True)
    except Exception as exc:  # noqa: BLE001 - the results are stored; a report problem must not change the code
        print(f"warning: no report ({type(exc).__name__}: {exc}); run gan-ablate report {shlex.quote(config)} "
              f"--storage {shlex.quote(redact(storage))} --tracking-uri {shlex.quote(redact(tracking))}",
              file=sys.stderr)
