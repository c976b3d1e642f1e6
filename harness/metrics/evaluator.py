"""Runs a run's metrics on a generator: fixed noise, no grad, on the device."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import torch
from torch import nn

from harness.metrics.base import METRICS, EvalContext
from harness.stores.keys import PROTOCOL_PREFIX

if TYPE_CHECKING:
    from harness.core.schema import RunConfig
    from harness.data import Dataset

GENERATION_CHUNK = 1024  # samples per generator call, to bound memory on big evaluations


class Evaluator:
    """Scores a generator with `cfg.eval.metrics`; the same generator always gets the same scores.

    `__call__(G)` returns {metric name: value} and nothing else. Facts about the yardstick go to
    `info` instead, filled by `prepare()` and by the first call: `classifier_test_accuracy` and
    `classifier_min_accuracy` (labelled images), `fd_reference_samples` (n of the Fréchet distance),
    `w1_points` (n of W1), the dataset's own `info` (a folder's split sizes and seed), and
    `protocol.<metric>` for metrics that declare how they are computed (fid, is, ...).
    `seconds_total / calls` is the mean cost of one evaluation.
    """

    def __init__(self, cfg: "RunConfig", dataset: "Dataset", device: torch.device) -> None:
        self.cfg, self.dataset, self.device = cfg, dataset, device
        self.metrics = [METRICS.get(name) for name in cfg.eval.metrics or ()]
        # Drawn on the CPU from its own generator: the same noise on any device, and the
        # training RNG stream is left untouched.
        noise_rng = torch.Generator().manual_seed(cfg.eval.seed)
        self.z = torch.randn(cfg.eval.num_samples, cfg.model.z_dim, generator=noise_rng).to(device)
        self.run_cache: dict = {}
        # The data's own facts (e.g. a folder's split), then the yardstick's, then each metric's protocol.
        self.info: dict[str, float | str] = dict(dataset.info)
        self.seconds_total = 0.0
        self.calls = 0

    def prepare(self) -> None:
        """Do the metrics' slow once-per-run setup now (e.g. train or load a classifier).

        Optional: metrics also set themselves up lazily on the first call. Each distinct hook
        runs once even when several metrics share it.
        """
        hooks = {id(m.prepare): m.prepare for m in self.metrics if m.prepare is not None}
        for hook in hooks.values():
            self.info.update(hook(self.cfg, self.dataset, self.device) or {})
        self.info.update({PROTOCOL_PREFIX + m.name: m.protocol(self.cfg, self.dataset)
                          for m in self.metrics if m.protocol is not None})

    @torch.no_grad()
    def generate(self, G: nn.Module) -> torch.Tensor:
        was_training = G.training
        G.eval()  # batch norm on running statistics: a sample does not depend on its batch-mates
        try:
            return torch.cat([G(chunk) for chunk in self.z.split(GENERATION_CHUNK)])
        finally:
            G.train(was_training)

    def __call__(self, G: nn.Module) -> dict[str, float]:
        """{metric: value} for G on the fixed evaluation noise, under no_grad, on the device."""
        start = time.perf_counter()
        fake = self.generate(G)
        ctx = EvalContext(self.cfg, self.dataset, self.device, fake, self.run_cache, info=self.info)
        with torch.no_grad():
            scores = {metric.name: float(metric.compute(ctx)) for metric in self.metrics}
        self.seconds_total += time.perf_counter() - start
        self.calls += 1
        return scores
