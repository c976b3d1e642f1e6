"""Checkpoints: a plain dict of G, D, both optimizers, both schedulers, the generator hooks (the EMA's
average), step, config, RNG state, the data sampler's state and the run's time accounting (so
cumulative seconds continue on resume)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch

from harness.config.resolve import RunConfig
from harness.train.device import rng_state, set_rng_state
from harness.core.errors import UserError, first_line
from harness.config.recipe import with_later_keys
from harness.recipes.schedules import SCHEDULES
from harness.core.strict import flatten, to_plain
from harness.train.trainer import TrainResult, TrainState, build_state

FORMAT_VERSION = 3  # 2: adds "progress", the TrainResult so far; 3: adds "hooks", the generator hooks' state
# Keys that may change between a checkpoint and its resumption without changing the run.
RESUMABLE_CHANGES = ("train.steps", "train.log_every", "train.eval_every", "train.sample_every",
                     "train.checkpoint_every", "train.checkpoint_every_seconds", "train.device")


def state_dict(state: TrainState) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "step": state.step,
        "config": to_plain(state.cfg),
        "G": state.G.state_dict(),
        "D": state.D.state_dict(),
        "opt_G": state.opt_G.state_dict(),
        "opt_D": state.opt_D.state_dict(),
        "sched_G": None if state.sched_G is None else state.sched_G.state_dict(),
        "sched_D": None if state.sched_D is None else state.sched_D.state_dict(),
        "hooks": {name: hook.state_dict() for name, hook in state.hooks.items()},
        "data": state.dataset.state_dict(),
        "rng": rng_state(),
        "progress": progress_dict(state.result),
    }


def progress_dict(result: TrainResult) -> dict[str, Any]:
    """Every TrainResult field (whatever fields it grows), as plain data torch.load accepts unpickled."""
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(TrainResult)}


def restore_progress(saved: dict[str, Any]) -> TrainResult:
    names = {f.name for f in dataclasses.fields(TrainResult)}
    result = TrainResult.empty()
    for key, value in saved.items():
        if key in names:  # a field this version no longer has is dropped, a new one starts empty
            setattr(result, key, [tuple(item) for item in value] if key == "history" else value)
    return result


def save_checkpoint(state: TrainState, path: str | Path) -> Path:
    """Write atomically (temp file + rename): a kill mid-write never leaves a torn checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state_dict(state), tmp)
    os.replace(tmp, path)
    return path


def config_differences(saved: dict[str, Any], cfg: RunConfig) -> list[str]:
    """Keys whose change would make the resumed run a different run."""
    old, new = with_later_keys(flatten(saved)), flatten(to_plain(cfg))
    free = set(RESUMABLE_CHANGES)
    if SCHEDULES.get(cfg.train.scheduler).spans_run:
        free.discard("train.steps")  # a linear/cosine decay was laid out over the original length
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k) and k not in free)


def read_checkpoint(path: Path, shown: str | None = None) -> dict[str, Any]:
    """The checkpoint at `path` (named `shown` in errors, e.g. an artifact rather than its download's temp path)."""
    shown = shown or repr(str(path))
    try:
        if path.is_file() and path.stat().st_size == 0:
            raise EOFError("the file is empty (0 bytes)")  # torch's own error for it has no message at all
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - missing, empty, truncated, not a checkpoint, unsafe pickle...
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else first_line(exc)
        raise UserError(f"cannot read checkpoint {shown}: {reason}") from None
    version = ckpt.get("format_version") if isinstance(ckpt, dict) else None
    if version != FORMAT_VERSION:
        raise UserError(f"checkpoint {shown} has format {version!r}; this harness reads format "
                        f"{FORMAT_VERSION}")
    return ckpt


def load_checkpoint(path: str | Path, cfg: RunConfig, device: torch.device | None = None,
                    shown: str | None = None) -> TrainState:
    """Rebuild the state of `cfg` and restore it from `path`, ready to continue training."""
    path = Path(path)
    ckpt = read_checkpoint(path, shown)
    differences = config_differences(ckpt["config"], cfg)
    if differences:
        raise UserError(f"checkpoint {shown or repr(str(path))} was written with a different config "
                        f"(differs in {', '.join(differences)}); resume with the same config")
    state = build_state(cfg, device)
    state.G.load_state_dict(ckpt["G"])
    state.D.load_state_dict(ckpt["D"])
    state.opt_G.load_state_dict(ckpt["opt_G"])
    state.opt_D.load_state_dict(ckpt["opt_D"])
    for sched, saved in ((state.sched_G, ckpt["sched_G"]), (state.sched_D, ckpt["sched_D"])):
        if sched is not None and saved is not None:
            sched.load_state_dict(saved)
    for name, hook in state.hooks.items():  # the same config enables the same hooks (checked above)
        hook.load_state_dict(ckpt["hooks"][name])
    state.dataset.load_state_dict(ckpt["data"])
    set_rng_state(ckpt["rng"])
    state.step = int(ckpt["step"])
    state.result = restore_progress(ckpt["progress"])
    return state
