"""Running one claimed trial: suggest, train with MLflow logging and Optuna reporting, tell."""

from __future__ import annotations

import math
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
import yaml
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from harness.train.checkpoint import load_checkpoint
from harness.config.resolve import config_hash, resolve_run
from harness.train.device import resolve_device
from harness.core.errors import ServiceLost, UserError, first_line, message_of
from harness.stores.retry import call_with_retries
from harness.config.recipe import recipe
from harness.core.strict import to_plain
from harness.sweep.context import SweepContext
from harness.sweep.interrupts import deferred_interrupt
from harness.sweep.space import applicable_space, suggest
from harness.sweep.studies import SEARCH, VariantStudies, requeue_callback, storage_retry
from harness.tracking.write import RunLogger, download_checkpoint, mark_run_killed, resume_point, tracking_retry
from harness.train.trainer import COST_KEYS, Diverged, TrainCallback, TrainResult, TrainState, train
from harness.stores import keys

KILLED_REASON = "worker died (no heartbeat); re-queued"
INTERRUPTED_REASON = "interrupted (Ctrl-C); re-queued"


class OptunaReporter(TrainCallback):
    """Reports the objective at every evaluation; raises TrialPruned when the pruner says so."""

    def __init__(self, trial: optuna.Trial, objective: str, prune: bool, retry: Any = None) -> None:
        self.trial, self.objective, self.prune, self.retry = trial, objective, prune, retry

    def call(self, fn: Any, *args: Any) -> Any:
        return fn(*args) if self.retry is None else call_with_retries(self.retry, fn, *args)

    def on_eval(self, step: int, metrics: dict[str, float]) -> None:
        value = metrics[self.objective]
        if math.isfinite(value):
            self.call(self.trial.report, value, step)
        if self.prune and self.call(self.trial.should_prune):
            raise optuna.TrialPruned(f"pruned at step {step} ({self.objective}={value:.4g})")


class Heartbeat:
    """Records the trial's heartbeat every `interval_s` in a thread, as Study.optimize would."""

    def __init__(self, storage: RDBStorage, trial_id: int, interval_s: float) -> None:
        self.storage, self.trial_id, self.interval_s = storage, trial_id, interval_s
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.beat, daemon=True, name=f"heartbeat-{trial_id}")

    def beat(self) -> None:
        missed = 0
        while not self.stopped.wait(self.interval_s):
            try:
                self.storage.record_heartbeat(self.trial_id)
                missed = 0
            except Exception as exc:  # noqa: BLE001 - a dropped connection: the next beat reconnects
                missed += 1
                if missed == 1:  # one line per outage; the trial's own calls report their retries
                    print(f"warning: heartbeat not recorded ({first_line(exc)}); trying again every "
                          f"{self.interval_s:.0f}s", file=sys.stderr, flush=True)

    def start(self) -> "Heartbeat":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()


@dataclass
class TrialJob:
    """A claimed trial with its run config, MLflow run and heartbeat: ready to train."""

    study: optuna.Study
    trial: optuna.Trial
    run: Any
    logger: RunLogger
    heartbeat: Heartbeat
    prune: bool
    state: TrainState | None = None  # restored from the trial's last checkpoint, when it has one


def device_name(device: torch.device) -> str:
    """What the report's header shows: 'cpu' or 'cuda:<GPU model>'."""
    return f"cuda:{torch.cuda.get_device_name(device)}" if device.type == "cuda" else device.type


def run_params(run: Any) -> dict[str, Any]:
    """The MLflow params of a trial's run: its variant, seed, model and training recipe, knobs only where
    they apply (no train.lambda_gp on vanilla). The data, evaluation and objective, the same for every
    run of an experiment, stay out: MLflow prints every param above each sample grid. The whole
    resolved config goes beside them as config.yaml."""
    kept = {key: value for key, value in recipe(run).items() if key.startswith(("train.", "model."))}
    return {"variant": run.variant, "seed": run.seed, **kept}


def config_yaml(run: Any) -> str:
    return yaml.safe_dump(to_plain(run), sort_keys=False)


def trial_tags(ctx: SweepContext, studies: VariantStudies, trial: optuna.Trial, stage: str, run: Any) -> dict[str, Any]:
    study = studies.search if stage == SEARCH else studies.confirm
    device = device_name(resolve_device(run.train.device))
    trial.set_user_attr(keys.DEVICE, device)
    levels = {keys.FACTOR_TAG_PREFIX + factor: level for factor, level in ctx.exp.variant(studies.variant).levels}
    return {keys.VARIANT: studies.variant, keys.STAGE: stage, keys.STUDY: study.study_name,
            keys.TRIAL_NUMBER: trial.number, keys.DEVICE: device, keys.SEED: run.seed,
            keys.CONFIG_HASH: config_hash(run), keys.ROLE: keys.ROLE_TRIAL,
            keys.KNOBS: ",".join(sorted(trial.params)) or "-", **levels}  # knobs: those of this cell


def resume_logger(ctx: SweepContext, run_id: str, run: Any) -> tuple[RunLogger, TrainState] | None:
    """Reopen a re-queued trial's run at its last checkpoint; None when it has none that fits `run`."""
    point = resume_point(ctx.tracking_uri, run_id)
    if point is None:
        return None
    retry = tracking_retry(ctx.tracking_uri, ctx.exp.tracking.retries, ctx.exp.tracking.retry_seconds)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = download_checkpoint(ctx.tracking_uri, run_id, point[0], Path(tmp), retry)
            state = load_checkpoint(path, run, shown=f"artifact {point[0]}")
        except ServiceLost:
            raise
        except UserError as exc:  # gone, empty, corrupt, or written by another config or version
            print(f"warning: not resuming run {run_id}: {exc}; the trial starts afresh", file=sys.stderr, flush=True)
            return None
    print(f"resuming run {run_id} from its checkpoint at step {state.step}", file=sys.stderr, flush=True)
    return RunLogger.reopen(ctx.tracking_uri, run_id, point[0], state.step, retry,
                            ctx.exp.tracking.system_metrics), state


def start_logger(ctx: SweepContext, studies: VariantStudies, trial: optuna.Trial, stage: str,
                 run: Any) -> tuple[RunLogger, TrainState | None]:
    """The trial's MLflow run: its predecessor's, reopened at the last checkpoint, or a new one."""
    # What the trial reads as if its worker dies before recording anything else.
    trial.set_user_attr(keys.OUTCOME, "killed")
    trial.set_user_attr(keys.REASON, KILLED_REASON)
    tags = trial_tags(ctx, studies, trial, stage, run)
    previous = trial.user_attrs.get(keys.MLFLOW_RUN_ID)
    resumed = resume_logger(ctx, previous, run) if previous else None
    if resumed is not None:
        resumed[0].set_tags({keys.TRIAL_NUMBER: trial.number})
        return resumed
    if previous:  # a re-queued trial without a usable checkpoint: its dead predecessor's run is closed
        mark_run_killed(ctx.tracking_uri, previous, "worker died; trial re-queued by heartbeat")
    retry = tracking_retry(ctx.tracking_uri, ctx.exp.tracking.retries, ctx.exp.tracking.retry_seconds)
    name = keys.run_name(stage, studies.variant, trial.number, run.seed, studies.levels)
    logger = RunLogger(ctx.tracking_uri, ctx.experiment_id, studies.search.user_attrs[keys.MLFLOW_PARENT_RUN_ID],
                       name, tags, run_params(run), retry, ctx.exp.tracking.system_metrics)
    logger.log_text(config_yaml(run), "config.yaml")
    trial.set_user_attr(keys.MLFLOW_RUN_ID, logger.run_id)
    return logger, None


def start_trial(ctx: SweepContext, storage: RDBStorage, studies: VariantStudies, trial: optuna.Trial,
                trial_id: int, stage: str) -> TrialJob:
    """Heartbeat, parameters, run config and MLflow run of a claimed trial (callers defer Ctrl-C)."""
    heartbeat = Heartbeat(storage, trial_id, ctx.exp.sweep.heartbeat_seconds).start()
    try:
        base = ctx.exp.run(studies.variant)
        params = suggest(trial, applicable_space(ctx.exp, base))
        run = resolve_run(ctx.exp, studies.variant, params=params, seed=trial.user_attrs.get(keys.SEED, ctx.exp.seed))
        logger, state = start_logger(ctx, studies, trial, stage, run)
    except BaseException:
        heartbeat.stop()  # the trial stays RUNNING; its silent heartbeat re-queues it
        raise
    study = studies.search if stage == SEARCH else studies.confirm
    return TrialJob(study, trial, run, logger, heartbeat, prune=stage == SEARCH, state=state)


def finish_trial(ctx: SweepContext, job: TrialJob) -> None:
    """Train the job and record its outcome in Optuna and MLflow; confirmation runs are never pruned."""
    try:
        train_and_record(ctx, job)
    finally:
        job.heartbeat.stop()


def abandon_trial(ctx: SweepContext, job: TrialJob) -> None:
    """Ctrl-C before training began: re-queue the trial exactly as an interrupted one."""
    with deferred_interrupt():
        requeue(ctx, job.study, job.trial, job.logger)
    job.heartbeat.stop()


Stopped = tuple[TrialState, str, str, str]  # (Optuna state, MLflow status, outcome, reason) of an unfinished run


def train_and_record(ctx: SweepContext, job: TrialJob) -> None:
    study, trial, logger, run = job.study, job.trial, job.logger, job.run
    reporter = OptunaReporter(trial, run.objective, job.prune, storage_retry(ctx.exp, ctx.storage_url))
    start = time.perf_counter()
    # Filled as training goes: a pruned or diverged run keeps its timings, a resumed one continues them.
    progress = job.state.result if job.state is not None else TrainResult.empty()
    try:
        stopped = train_until_stopped(run, [logger, reporter], progress, job.state)
    except KeyboardInterrupt:  # while training, or while a stopped run's reason was being worked out
        with deferred_interrupt():
            requeue(ctx, study, trial, logger)
        raise
    except ServiceLost:  # retries ran out: re-queue what the surviving store allows, then stop the sweep
        with deferred_interrupt():
            requeue_after_loss(ctx, study, trial, logger)
        raise
    # Training is over: its outcome is written whole (Ctrl-C waits), never left as a RUNNING trial.
    with deferred_interrupt():
        record_timings(trial, progress, time.perf_counter() - start)
        record_history(trial, logger, progress, run.objective)
        if stopped is None:
            record_result(study, trial, logger, progress, run.objective)
        else:
            close(study, trial, logger, *stopped)


def train_until_stopped(run: Any, callbacks: list[TrainCallback], progress: TrainResult,
                        state: TrainState | None = None) -> Stopped | None:
    """Train; None when the run reached its last step, else why it stopped (Ctrl-C and a lost service propagate)."""
    try:
        train(run, callbacks, state=state, result=progress)
    except optuna.TrialPruned as exc:
        return TrialState.PRUNED, "FINISHED", "pruned", str(exc)
    except Diverged as exc:
        return TrialState.PRUNED, "FAILED", "diverged", str(exc)
    except (ServiceLost, KeyboardInterrupt):
        raise
    except BaseException as exc:  # noqa: BLE001 - one broken trial must not stop the sweep, whatever a plugin raises
        traceback.print_exc(file=sys.stderr)
        return TrialState.FAIL, "FAILED", "error", f"{type(exc).__name__}: {message_of(exc)}"
    return None


def record_timings(trial: optuna.Trial, result: TrainResult, wall_seconds: float) -> None:
    """Where the trial's time went, for every outcome: what `benchmarks/sweep_efficiency.py` adds up."""
    for key, value in {"train_seconds": result.train_seconds, "eval_seconds": result.eval_seconds,
                       "other_seconds": result.other_seconds, "wall_seconds": wall_seconds,
                       "evaluations": result.evaluations, "steps_done": result.steps}.items():
        trial.set_user_attr(key, value)


def eval_history(result: TrainResult, objective: str) -> dict[str, list[float | None]]:
    """The objective and the cost counters at each evaluation, column-wise (JSON: NaN becomes None).

    The report reads these to judge convergence and to compare recipes at equal training time."""
    columns: dict[str, list[float | None]] = {"step": [], "value": [], **{key: [] for key in COST_KEYS}}
    for step, metrics in result.history:
        columns["step"].append(float(step))
        for key in ("value", *COST_KEYS):
            value = metrics.get(objective if key == "value" else key, math.nan)
            columns[key].append(value if math.isfinite(value) else None)
    return columns


def record_history(trial: optuna.Trial, logger: RunLogger, result: TrainResult, objective: str) -> None:
    trial.set_user_attr(keys.EVAL_HISTORY, eval_history(result, objective))
    logger.log_metrics(result.steps, {"train_seconds_total": result.train_seconds})


def record_result(study: optuna.Study, trial: optuna.Trial, logger: RunLogger, result: TrainResult,
                  objective: str) -> None:
    value = result.final_metrics.get(objective, math.nan)
    if not math.isfinite(value):
        close(study, trial, logger, TrialState.PRUNED, "FAILED", "diverged", f"{objective} is not finite")
        return
    trial.set_user_attr(keys.FINAL_METRICS, {k: v for k, v in result.final_metrics.items() if math.isfinite(v)})
    trial.set_user_attr(keys.OUTCOME, "complete")  # a re-queued trial inherited its predecessor's outcome
    trial.set_user_attr(keys.REASON, "")
    logger.finish("FINISHED", {keys.OUTCOME: "complete", keys.REASON: ""})
    study.tell(trial, value)


def close(study: optuna.Study, trial: optuna.Trial, logger: RunLogger, state: TrialState, run_status: str,
          outcome: str, reason: str) -> None:
    trial.set_user_attr(keys.OUTCOME, outcome)
    trial.set_user_attr(keys.REASON, reason)
    logger.finish(run_status, {keys.OUTCOME: outcome, keys.REASON: reason})
    study.tell(trial, state=state)


def requeue(ctx: SweepContext, study: optuna.Study, trial: optuna.Trial, logger: RunLogger) -> None:
    """Ctrl-C: fail the trial and queue an identical one, exactly as a dead worker's trial would be."""
    logger.finish("KILLED", {keys.OUTCOME: "interrupted", keys.REASON: INTERRUPTED_REASON})
    trial.set_user_attr(keys.OUTCOME, "interrupted")
    trial.set_user_attr(keys.REASON, INTERRUPTED_REASON)
    frozen = study.tell(trial, state=TrialState.FAIL)
    requeue_callback(ctx.exp)(study, frozen)


def requeue_after_loss(ctx: SweepContext, study: optuna.Study, trial: optuna.Trial, logger: RunLogger) -> None:
    """A service is gone: close and re-queue once, without retries; what fails is left to the heartbeat.

    With MLflow gone the trial is re-queued in Optuna now (its run is closed by the next sweep);
    with the database gone the trial stays RUNNING, falls silent and is re-queued by the heartbeat.
    """
    logger.abandon({keys.OUTCOME: "interrupted", keys.REASON: "lost a service; re-queued"})
    try:
        trial.set_user_attr(keys.OUTCOME, "interrupted")
        trial.set_user_attr(keys.REASON, "lost a service; re-queued")
        frozen = study.tell(trial, state=TrialState.FAIL)
        requeue_callback(ctx.exp)(study, frozen)
    except Exception:  # noqa: BLE001 - the storage is the lost service; its heartbeat re-queues the trial
        pass
