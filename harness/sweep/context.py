"""What every sweep worker needs to know; picklable, so spawned processes receive it whole."""

from __future__ import annotations

from dataclasses import dataclass

from harness.config.resolve import ExperimentConfig


@dataclass(frozen=True)
class SweepContext:
    exp: ExperimentConfig
    storage_url: str
    tracking_uri: str
    experiment_id: str
    worker: int = 0  # index on this machine; varies the sampler seed between workers
    sampler_seed: int = 0
    poll_seconds: float = 2.0
